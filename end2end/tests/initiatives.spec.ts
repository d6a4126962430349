// Initiatives: a product owner records an outcome for their initiative and sees ROI change,
// but cannot for someone else's; a viewer records none; the demo's zombie initiative is
// flagged with its reason and a decision on it is recorded and shown.
import { test, expect } from '@playwright/test';
import { signIn } from './pages/overview';

const TODAY = process.env.COSTROOM_TODAY ?? '2026-11-20';

const outcomeForm = (initiative: string) => ({
  initiative, day: TODAY, period_end: '', metric: '', quantity: '1', value_per_unit: '1', total_value: '',
  baseline_cost: '', note: '', evidence: '',
});

test('a product owner records an outcome and sees ROI change, for their own initiative only', async ({ page, browser }) => {
  await signIn(page, 'product', '/initiatives');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByRole('link', { name: 'Support copilot' }).click();
  await expect(page.getByTestId('initiative-title')).toContainText('Support copilot');
  const roiBefore = (await page.getByTestId('kpi-roi').textContent())!;
  await page.getByTestId('record-link').click();
  await page.getByTestId('outcome-day').fill(TODAY);
  await page.getByTestId('outcome-total').fill('lots');
  await page.getByTestId('outcome-submit').click();
  await expect(page.getByTestId('error-total_value')).toHaveText("'lots' is not an amount of US dollars (digits, one point, and an optional $ and sign only)");
  await page.getByTestId('outcome-total').fill('250');
  await page.getByTestId('outcome-note').fill('escalations avoided');
  await page.getByTestId('outcome-submit').click();
  // more than half the initiative's value in one line needs evidence before it is accepted
  await expect(page.getByTestId('error-evidence')).toContainText('above the 50% that needs evidence');
  await page.getByTestId('outcome-evidence').fill('https://reports.example.com/escalations-november');
  await page.getByTestId('outcome-submit').click();
  await expect(page.getByTestId('outcome-result')).toContainText('Outcome recorded.');
  const row = page.getByTestId('outcomes').locator('tr', { hasText: 'escalations avoided' });
  await expect(row).toContainText('$250.00');
  // ...and it does not count until finance verifies it: ROI is unchanged, the line says why
  await expect(row.getByTestId('outcome-trust')).toHaveAttribute('data-counted', 'false');
  await expect(row.getByTestId('outcome-trust')).toContainText('pending verification (not counted)');
  await expect(row.getByTestId('verify-outcome')).toHaveCount(0);
  await expect(page.getByTestId('kpi-roi')).toHaveText(roiBefore);
  const detail = new URL(page.url()).pathname;
  const finance = await browser.newPage();
  await signIn(finance, 'finance', detail);
  await finance.waitForSelector('body[data-hydrated]');
  const financeRow = finance.getByTestId('outcomes').locator('tr', { hasText: 'escalations avoided' });
  await financeRow.getByTestId('verify-outcome').click();
  await expect(financeRow.getByTestId('outcome-trust')).toContainText('verified by');
  await expect(finance.getByTestId('kpi-roi')).not.toHaveText(roiBefore);
  await finance.close();

  // someone else's initiative: no form, and the server refuses a direct call
  await page.goto('/initiatives');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByRole('link', { name: 'Smart search' }).click();
  await expect(page.getByTestId('initiative-title')).toContainText('Smart search');
  await expect(page.getByTestId('outcome-submit')).toHaveCount(0);
  const other = page.url().split('/').pop()!;
  expect((await page.request.post('/api/record_outcome', { form: outcomeForm(other) })).status()).toBe(403);

  // a viewer records none
  const viewer = await browser.newPage();
  await signIn(viewer, 'viewer', '/initiatives');
  await viewer.getByRole('link', { name: 'Support copilot' }).click();
  await expect(viewer.getByTestId('initiative-title')).toContainText('Support copilot');
  await expect(viewer.getByTestId('outcome-submit')).toHaveCount(0);
  const own = viewer.url().split('/').pop()!;
  expect((await viewer.request.post('/api/record_outcome', { form: outcomeForm(own) })).status()).toBe(403);
  await viewer.close();
});

test('the demo zombie is flagged with its reason and a decision on it is recorded', async ({ page }) => {
  await signIn(page, 'product', '/initiatives');
  await expect(page.locator('tr[data-initiative="marketing-content"]')).toHaveAttribute('data-flagged', 'true');
  const flag = page.getByTestId('zombie-flags').locator('li[data-rule="no_outcomes"]');
  await expect(flag).toContainText('Marketing content');
  await expect(flag).toContainText('no outcome recorded in 45 days');
  await page.waitForSelector('body[data-hydrated]');
  await flag.getByRole('link').click();
  const open = page.getByTestId('initiative-flags').locator('li[data-rule="no_outcomes"][data-open="true"]');
  await expect(open).toContainText('awaiting a decision');
  const fixBy = new Date(`${TODAY}T00:00:00Z`);
  fixBy.setUTCDate(fixBy.getUTCDate() + 30);
  const due = fixBy.toISOString().slice(0, 10);
  await open.locator('select[name="decision"]').selectOption('fix');
  await open.locator('input[name="fix_by"]').fill(due);
  await open.locator('input[name="note"]').fill('measure campaign conversions');
  await open.getByRole('button', { name: 'Record decision' }).click();
  await expect(open.getByTestId('decisions')).toContainText(`fix: measure campaign conversions (fix by ${due})`);
  await expect(open).not.toContainText('awaiting a decision');
  // it stays on record after a reload
  await page.reload();
  await expect(page.getByTestId('initiative-flags')).toContainText('decided by product@demo.costroom.example');
});

test('an owner looks at one month and corrects an outcome, whose history keeps the old figure', async ({ page }) => {
  await signIn(page, 'product', '/initiatives');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByRole('link', { name: 'Support copilot' }).click();
  await expect(page.getByTestId('initiative-title')).toContainText('Support copilot');
  // the period form: this month to date, whose value is the month's line in the monthly table
  const month = TODAY.slice(0, 7);
  await page.getByTestId('period-from').fill(`${month}-01`);
  await page.getByTestId('period-to').fill(TODAY);
  await page.getByTestId('period-apply').click();
  await expect(page.getByTestId('detail-period')).toContainText(`${month}-01 to ${TODAY}`);
  const monthRow = page.getByTestId('months').locator(`tr[data-month="${month}"]`);
  const cells = monthRow.locator('td');
  await expect(page.getByTestId('kpi-spend')).toContainText(await cells.nth(0).innerText());
  await expect(page.getByTestId('kpi-value')).toContainText(await cells.nth(1).innerText());
  await page.getByRole('link', { name: 'Lifetime' }).click();
  await expect(page.getByTestId('detail-period')).not.toContainText(`${month}-01 to`);

  // correct the oldest outcome: its value changes and the old one stays in its history
  const row = page.getByTestId('outcomes').locator('tbody tr').last();
  const before = await row.locator('td').nth(3).innerText();
  await row.getByText('Correct', { exact: true }).click();
  await row.getByTestId('correct-total').fill('1234.5');
  await row.getByRole('button', { name: 'Save correction' }).click();
  const corrected = page.getByTestId('outcomes').locator('tbody tr').last();
  await expect(corrected.locator('td').nth(3)).toHaveText('$1,234.50');
  await expect(corrected.getByTestId('outcome-history')).toContainText('product@demo.costroom.example');
  await expect(corrected.getByTestId('outcome-history')).toContainText('value');
  expect(before).not.toBe('$1,234.50');
});
