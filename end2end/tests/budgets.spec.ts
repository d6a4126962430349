// Budgets: finance creates a budget whose 50 % threshold the demo's month already passed and
// sees it evaluated and its alert appear (after hydration, no reload); a viewer gets no form
// and a direct call is refused.
import { test, expect } from '@playwright/test';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
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
  // and beside the field itself
  await expect(page.getByTestId('error-amount_usd')).toHaveText("'abc' is not an amount of US dollars (digits, one point, and an optional $ and sign only)");
  // a dollar: the team's month to date is far past half of it
  await page.getByTestId('budget-amount').fill('1');
  await page.getByTestId('budget-submit').click();
  await expect(page.getByTestId('budget-result')).toContainText('Budget created.');
  const row = page.locator(`[data-testid="budgets"] tr[data-budget="${name}"]`);
  await expect(row).toHaveAttribute('data-status', 'over');
  const alerts = page.getByTestId('budget-alerts').locator('li', { hasText: name });
  await expect(alerts).toHaveCount(3);
  await expect(alerts.first()).toContainText('Team support');
  // the bell in the navigation counts them until this person marks them read in the inbox
  await page.reload();
  await expect(page.getByTestId('alert-count')).toBeVisible();
  expect(Number(await page.getByTestId('alert-count').innerText())).toBeGreaterThanOrEqual(3);
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('alert-bell').click();
  await expect(page.getByTestId('inbox').locator('li', { hasText: name })).toHaveCount(3);
  await page.getByTestId('alerts-read').click();
  await expect(page.locator('[data-testid="inbox"] li.unread')).toHaveCount(0);
  await expect(page.getByTestId('alert-count')).toHaveCount(0);
  // its page: the burn-up chart and the same three alerts in its history
  await page.goto('/budgets');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByRole('link', { name }).click();
  await expect(page.getByTestId('budget-title')).toContainText(name);
  await expect(page.locator('#chart-budget canvas, #chart-budget svg').first()).toBeVisible();
  await expect(page.getByTestId('budget-alert-history').locator('li')).toHaveCount(3);
});

test('a budget for a team no spend has is refused as a likely typo until confirmed', async ({ page }) => {
  await signIn(page, 'finance', '/budgets');
  await page.waitForSelector('body[data-hydrated]');
  const name = `Typo ${Date.now()}`;
  await page.getByTestId('budget-name').fill(name);
  await page.getByTestId('budget-scope').selectOption('team');
  // the known teams are offered as the person types
  await expect(page.locator('datalist#known-team option[value="support"]')).toHaveCount(1);
  await page.getByTestId('budget-scope-value').fill('suport');
  await page.getByTestId('budget-start').fill(`${TODAY.slice(0, 8)}01`);
  await page.getByTestId('budget-amount').fill('100');
  await page.getByTestId('budget-owner').fill('Demo finance');
  await page.getByTestId('budget-submit').click();
  await expect(page.getByTestId('error-scope_value')).toContainText("did you mean 'support'?");
  await expect(page.locator(`[data-testid="budgets"] tr[data-budget="${name}"]`)).toHaveCount(0);
  // what was typed is kept to be corrected; confirming saves it as it is
  await expect(page.getByTestId('budget-scope-value')).toHaveValue('suport');
  await page.getByTestId('budget-save-unmatched').check();
  await page.getByTestId('budget-submit').click();
  await expect(page.getByTestId('budget-result')).toContainText('Budget created.');
  await expect(page.locator(`[data-testid="budgets"] tr[data-budget="${name}"]`)).toHaveCount(1);
  // and the form is empty again for the next one
  await expect(page.getByTestId('budget-name')).toHaveValue('');
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

test("last month's forecasts are held against what was spent and ranked by error", async ({ page }) => {
  // the demo's two budgets have run since two months before today
  const lastMonth = new Date(`${TODAY.slice(0, 8)}01T00:00:00Z`);
  lastMonth.setUTCMonth(lastMonth.getUTCMonth() - 1);
  const from = lastMonth.toISOString().slice(0, 10);
  await signIn(page, 'viewer', '/budgets/accuracy');
  const rows = page.getByTestId('accuracy').locator('tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText(from);
  for (const cell of await page.getByTestId('mape').allInnerTexts()) {
    expect(cell).toMatch(/^\d+\.\d%$/);
  }
  // worst first
  const mapes = (await page.getByTestId('mape').allInnerTexts()).map((t) => parseFloat(t));
  expect(mapes[0]).toBeGreaterThanOrEqual(mapes[1]);
  await page.waitForSelector('body[data-hydrated]');
  await page.getByRole('link', { name: 'All AI', exact: true }).click();
  const section = page.getByTestId(`forecast-${from}`);
  await expect(section.getByTestId('forecast-summary')).toContainText('Error at the start');
  await expect(section.locator('canvas, svg').first()).toBeVisible();
  const days = new Date(Date.UTC(lastMonth.getUTCFullYear(), lastMonth.getUTCMonth() + 1, 0)).getUTCDate();
  await expect(section.getByTestId('snapshots').locator('tbody tr')).toHaveCount(days);
  // the running month keeps one forecast per day so far, today's made on the day
  const running = page.getByTestId(`forecast-${TODAY.slice(0, 8)}01`);
  await expect(running.getByTestId('snapshots').locator('tbody tr')).toHaveCount(Number(TODAY.slice(8, 10)));
  // the Overview counts budgets by status and links each one needing attention
  await page.goto('/');
  await expect(page.getByTestId('kpi-budgets')).toContainText('at risk');
  // the search team's budget is 90 % of last month's spend in a growing month: it needs attention
  const search = page.locator('[data-testid^="kpi-budget-"]', { hasText: 'Search' });
  await expect(search).toHaveCount(1);
  await expect(search.locator('a')).toHaveAttribute('href', /^\/budgets\/\d+$/);
});

test('finance adds a webhook and budget alerts are posted to it', async ({ page, browser }) => {
  const received: { path: string; delivery: string; body: any }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', delivery: String(req.headers['x-costroom-delivery']), body: JSON.parse(body) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    await signIn(page, 'finance', '/settings/webhooks');
    await page.waitForSelector('body[data-hydrated]');
    const hook = `e2e-${Date.now()}`;
    await page.getByTestId('hook-name').fill(hook);
    await page.getByTestId('hook-url').fill(`http://127.0.0.1:${port}/costroom/secret-path`);
    await page.getByTestId('hook-format').selectOption('json');
    await page.getByTestId('hook-submit').click();
    await expect(page.getByTestId('hook-result')).toContainText('Webhook added.');
    const row = page.getByTestId(`webhook-${hook}`);
    await expect(row).toContainText(`http://127.0.0.1:${port}/…`);
    await expect(row).not.toContainText('secret-path');
    await row.getByRole('button', { name: 'Send test' }).click();
    await expect.poll(() => received.filter((r) => r.body.event === 'test').length).toBe(1);

    // a budget already past its thresholds: each alert arrives once, with exact figures
    await page.goto('/budgets');
    await page.waitForSelector('body[data-hydrated]');
    const name = `Growth AI ${Date.now()}`;
    await page.getByTestId('budget-name').fill(name);
    await page.getByTestId('budget-scope').selectOption('team');
    await page.getByTestId('budget-scope-value').fill('growth');
    await page.getByTestId('budget-start').fill(`${TODAY.slice(0, 8)}01`);
    await page.getByTestId('budget-amount').fill('1');
    await page.getByTestId('budget-owner').fill('Demo finance');
    await page.getByTestId('budget-submit').click();
    await expect(page.getByTestId('budget-result')).toContainText('Budget created.');
    const mine = () => received.filter((r) => String(r.body.title).includes(name));
    await expect.poll(() => mine().length).toBe(3);
    expect(mine().map((r) => r.body.data.threshold_pct).sort()).toEqual([100, 50, 80]);
    expect(mine().every((r) => r.body.data.amount_nanos === 1_000_000_000)).toBe(true);
    expect(new Set(mine().map((r) => r.delivery)).size).toBe(3);

    // the delivery log shows them delivered
    await page.goto('/settings/webhooks');
    await page.waitForSelector('body[data-hydrated]');
    const delivered = page.getByTestId('deliveries').locator('tr.delivery-delivered', { hasText: name });
    await expect(delivered).toHaveCount(3);

    // a viewer reads the log but cannot add a webhook
    const viewer = await browser.newPage();
    await signIn(viewer, 'viewer', '/settings/webhooks');
    await expect(viewer.getByTestId('webhooks')).toBeVisible();
    await expect(viewer.getByTestId('hook-submit')).toHaveCount(0);
    await expect(viewer.getByRole('button', { name: 'Send test' })).toHaveCount(0);
    await viewer.close();
  } finally {
    server.close();
  }
});
