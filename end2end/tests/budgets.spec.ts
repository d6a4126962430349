// Budgets: finance creates a budget whose 50 % threshold the demo's month already passed and
// sees it evaluated and its alert appear (after hydration, no reload); a viewer gets no form
// and a direct call is refused.
import { test, expect } from '@playwright/test';
import { signIn } from './pages/overview';

const TODAY = process.env.COSTROOM_TODAY ?? '2026-11-20';

test('finance creates a budget with a passed threshold and the alert appears', async ({ page }) => {
  await signIn(page, 'finance', '/budgets');
  await page.waitForSelector('body[data-hydrated]');
  const name = `Support AI ${Date.now()}`;
  await page.getByTestId('budget-name').fill(name);
  await page.getByTestId('budget-scope').selectOption('team');
  await page.getByTestId('budget-scope-value').fill('support');
  await page.getByTestId('budget-start').fill(`${TODAY.slice(0, 8)}01`);
  await page.getByTestId('budget-amount').fill('abc');
  await page.getByTestId('budget-owner').fill('Demo finance');
  await page.getByTestId('budget-submit').click();
  await expect(page.getByTestId('budget-result')).toContainText("amount_usd: 'abc'");
  // a dollar: the team's month to date is far past half of it
  await page.getByTestId('budget-amount').fill('1');
  await page.getByTestId('budget-submit').click();
  await expect(page.getByTestId('budget-result')).toContainText('Budget created.');
  const row = page.locator(`[data-testid="budgets"] tr[data-budget="${name}"]`);
  await expect(row).toHaveAttribute('data-status', 'over');
  const alerts = page.getByTestId('budget-alerts').locator('li', { hasText: name });
  await expect(alerts).toHaveCount(3);
  await expect(alerts.first()).toContainText('Team support');
  // the bell in the navigation counts them until someone marks them read
  await page.reload();
  await expect(page.getByTestId('alert-count')).toBeVisible();
  expect(Number(await page.getByTestId('alert-count').innerText())).toBeGreaterThanOrEqual(3);
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('alerts-read').click();
  await expect(page.locator('ul.alerts li.unread')).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('alert-bell')).toBeVisible();
  await expect(page.getByTestId('alert-count')).toHaveCount(0);
  // its page: the burn-up chart and the same three alerts in its history
  await page.waitForSelector('body[data-hydrated]');
  await page.getByRole('link', { name }).click();
  await expect(page.getByTestId('budget-title')).toContainText(name);
  await expect(page.locator('#chart-budget canvas, #chart-budget svg').first()).toBeVisible();
  await expect(page.getByTestId('budget-alert-history').locator('li')).toHaveCount(3);
});

test('a viewer sees budgets but cannot create one', async ({ page }) => {
  await signIn(page, 'viewer', '/budgets');
  await expect(page.getByTestId('budgets')).toBeVisible();
  await expect(page.getByTestId('budget-submit')).toHaveCount(0);
  const r = await page.request.post('/api/create_budget', {
    form: { name: 'x', scope: 'organisation', scope_value: '', period: 'month', fiscal_start_month: '1',
      start: '2026-11-01', amount_usd: '1', thresholds: '', owner: 'x' },
  });
  expect(r.status()).toBe(403);
});
