// The ledger: finance records a training run and a commitment from the page (after
// hydration, no reload), sees them costed and counted in spend by source; a viewer reads the
// ledger but gets no forms, and a direct call is refused.
import { test, expect } from '@playwright/test';
import { fileURLToPath } from 'url';
import { signIn } from './pages/overview';

function usd(text: string): number {
  return Number(text.replace(/[$,]/g, ''));
}

test('finance records a training run and a commitment and both land in spend by source', async ({ page }) => {
  await signIn(page, 'finance', '/ledger');
  await page.waitForSelector('body[data-hydrated]');
  const to = await page.getByTestId('ledger-to').inputValue();
  const training = page.locator('[data-testid="ledger-sources"] tr[data-source="training"] td');
  const before = usd(await training.innerText());
  const total = usd(await page.getByTestId('ledger-total').innerText());

  // a bad field is named, and nothing is recorded
  await page.getByTestId('run-id').fill('e2e-run-1');
  await page.getByTestId('run-model').fill('llama-3-8b-support-ft');
  await page.getByTestId('run-start').fill(`${to}T01:00:00Z`);
  await page.getByTestId('run-end').fill(`${to}T00:00:00Z`);
  await page.getByTestId('run-cost').fill('1200.50');
  await page.getByTestId('run-submit').click();
  await expect(page.getByTestId('run-result')).toContainText('ended_at: is before started_at');

  await page.getByTestId('run-start').fill(`${to}T00:00:00Z`);
  await page.getByTestId('run-end').fill(`${to}T06:00:00Z`);
  await page.getByTestId('run-metric').fill('eval accuracy');
  await page.getByTestId('run-score').fill('0.8');
  await page.getByTestId('run-submit').click();
  await expect(page.getByTestId('run-result')).toContainText('Recorded, $1,200.50.');
  const row = page.locator('[data-testid="training-runs"] tr[data-run="e2e-run-1"]');
  await expect(row).toContainText('$1,200.50');
  await expect(row).toContainText('$1,500.63');
  await expect(training).toHaveText(`$${(before + 1200.5).toLocaleString('en-US', { minimumFractionDigits: 2 })}`);

  await page.getByTestId('ptu-provider').fill('azure');
  await page.getByTestId('ptu-model').fill('gpt-4o');
  await page.getByTestId('ptu-units').fill('50');
  await page.getByTestId('ptu-start').fill(to);
  await page.getByTestId('ptu-end').fill(to);
  await page.getByTestId('ptu-price').fill('860');
  await page.getByTestId('ptu-submit').click();
  await expect(page.getByTestId('ptu-result')).toContainText('Recorded, $860.00.');
  await expect(page.getByTestId('commitments')).toContainText('gpt-4o');
  const after = usd(await page.getByTestId('ledger-total').innerText());
  expect(Math.round((after - total) * 100)).toBe(206050);
});

test('a viewer reads the ledger but cannot record', async ({ page }) => {
  await signIn(page, 'viewer', '/ledger');
  await expect(page.getByRole('heading', { name: 'Spend by source' })).toBeVisible();
  await expect(page.getByTestId('run-submit')).toHaveCount(0);
  const r = await page.request.post('/api/add_training_run', {
    form: { run_id: 'x', model: 'm', started_at: '2026-11-01', ended_at: '2026-11-02', cost_usd: '1' },
  });
  expect(r.status()).toBe(403);
  const csv = await page.request.get('/ledger/focus.csv');
  expect(csv.status()).toBe(200);
  expect((await csv.text()).split('\n')[0]).toContain('BillingAccountId,BillingAccountName');
});

test('finance imports an Anthropic cost report and sees it reconciled, cents converted', async ({ page }) => {
  const file = fileURLToPath(new URL('../../app/tests/fixtures/provider-reports/example_cost_report.json', import.meta.url));
  await signIn(page, 'finance', '/ledger');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('report-kind').selectOption('anthropic-costs');
  await page.getByTestId('report-file').setInputFiles(file);
  await page.getByTestId('report-submit').click();
  await expect(page).toHaveURL(/\/ledger\?job=\d+/);
  await expect(page.getByTestId('report-result')).toContainText('anthropic-costs: 1 lines, 1 rows stored, cost $1.24');
  await page.goto('/ledger?from=2025-07-01&to=2025-08-31');
  const totals = page.locator('[data-testid="recon-totals"] tr[data-provider="anthropic"]');
  await expect(totals).toContainText('$1.24');
  await expect(page.getByTestId('recon-rows')).toContainText('claude-opus-5');

  // the organisation's billing-import rules are saved (audited) and shown back
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('rules-covered').fill('Azure OpenAI');
  await page.getByTestId('rules-submit').click();
  await expect(page.getByTestId('rules-result')).toContainText('Rules saved');
  await page.reload();
  await expect(page.getByTestId('rules-covered')).toHaveValue('Azure OpenAI');
});
