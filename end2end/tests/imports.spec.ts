// Billing imports: finance uploads the FOCUS specification's spend-agreement example, watches
// the import finish, and importing it again replaces instead of adding.
import { test, expect } from '@playwright/test';
import { fileURLToPath } from 'url';
import { signIn } from './pages/overview';

const FILE = fileURLToPath(new URL('../../app/tests/fixtures/focus/saas_examples/spend_agreements/saas_spend_agreements_a1.csv', import.meta.url));

test('finance imports a FOCUS file twice and nothing is counted twice', async ({ page }) => {
  await signIn(page, 'finance', '/settings/imports');
  await page.waitForSelector('body[data-hydrated]');
  for (const round of [1, 2]) {
    await page.getByTestId('upload-file').setInputFiles(FILE);
    await page.getByTestId('upload-submit').click();
    await expect(page).toHaveURL(/\/settings\/imports\?job=\d+/);
    const result = page.getByTestId('import-result');
    await expect(result).toContainText('rejected; billed $1,200.00');
    if (round === 1) {
      await expect(result).toContainText('0 earlier lines replaced');
    } else {
      await expect(result).not.toContainText(' 0 earlier lines replaced');
    }
  }
  const rows = page.getByTestId('import-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText('saas_spend_agreements_a1.csv');
  await expect(rows.first()).toContainText('finance@demo.costroom.example');
});

test('a viewer sees the imports but no upload form, and a direct upload is refused', async ({ page }) => {
  await signIn(page, 'viewer', '/settings/imports');
  await expect(page.getByRole('heading', { name: 'Billing imports' })).toBeVisible();
  await expect(page.getByTestId('upload-submit')).toHaveCount(0);
  const r = await page.request.post('/ledger/focus', { multipart: { file: { name: 'x.csv', mimeType: 'text/csv', buffer: Buffer.from('BilledCost\n1\n') } } });
  expect(r.status()).toBe(403);
});
