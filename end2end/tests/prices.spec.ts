// The price book: an event for a model without a price is flagged, engineering sets the
// organisation's own price, history is re-priced, and a re-price job shows its outcome.
import { test, expect } from '@playwright/test';
import { signIn } from './pages/overview';

test('an unpriced model gets a price and its events are re-priced', async ({ page }) => {
  await signIn(page, 'engineering', '/settings/keys');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('key-name').fill('price e2e');
  await page.getByTestId('key-team').selectOption('platform');
  await page.getByTestId('key-submit').click();
  const token = (await page.getByTestId('new-key-token').innerText()).trim();

  const sent = await page.request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${token}` },
    data: [{ event_id: 'e2e-house-1', timestamp: '2026-11-20T12:00:00Z', provider: 'acme', model: 'house-model',
      input_tokens: 1000000, output_tokens: 250000 }],
  });
  expect(sent.status()).toBe(200);
  expect(await sent.json()).toMatchObject({ accepted: 1, unpriced: 1, rejected: 0 });

  await page.goto('/settings/prices');
  await page.waitForSelector('body[data-hydrated]');
  const row = page.getByTestId('unpriced-house-model');
  await expect(row).toContainText('1,000,000');
  await row.getByRole('link', { name: 'Set a price' }).click();
  await expect(page.getByTestId('set-model')).toHaveValue('house-model');
  await expect(page.getByTestId('set-provider')).toHaveValue('acme');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('set-from').fill('2026-11-20');
  await page.getByTestId('set-input').fill('2');
  await page.getByTestId('set-output').fill('8');
  await page.getByTestId('set-submit').click();
  // 1M input × $2/M + 250k output × $8/M = $4.00
  await expect(page.getByTestId('set-result')).toContainText(/Re-priced \d+ of \d+ events since 2026-11-20/);
  await expect(page.getByTestId('unpriced')).toHaveCount(0);

  // a Vertex call named by its resource path takes Google's own price, and the page says which
  const vertex = await page.request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${token}` },
    data: [{ event_id: 'e2e-vertex-1', timestamp: '2026-11-20T12:00:00Z', provider: 'gcp.vertex_ai',
      model: 'projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash-001',
      input_tokens: 1000000 }],
  });
  expect(await vertex.json()).toMatchObject({ accepted: 1, unpriced: 0 });
  await page.goto('/settings/prices');
  await page.waitForSelector('body[data-hydrated]');
  const pricedBy = page.getByTestId('priced-by');
  const viaVertex = pricedBy.getByTestId(
    'priced-by-gcp.vertex_ai-projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash-001');
  await expect(viaVertex).toContainText('genai-prices/google/gemini-2.0-flash');
  await expect(viaVertex).toContainText('provider');
  await expect(pricedBy.getByTestId('priced-by-acme-house-model')).toContainText('own');
  await viaVertex.getByRole('link', { name: 'genai-prices/google/gemini-2.0-flash' }).click();
  await expect(page.getByTestId('price-history')).toContainText('genai-prices-0.2.5');

  await page.getByTestId('price-search').fill('house');
  await page.getByTestId('price-search-submit').click();
  const priced = page.getByTestId('prices').getByTestId('price-house-model');
  await expect(priced).toContainText('own (override)');
  await expect(priced).toContainText('$2');
  await expect(priced).toContainText('$8');

  await page.getByTestId('recompute-since').fill('2026-11-20');
  await page.getByTestId('recompute-submit').click();
  await expect(page.getByTestId('recompute-result')).toContainText(/Re-priced 0 of \d+ events since 2026-11-20/);
});

test('a viewer reads the price book but cannot change it', async ({ page }) => {
  await signIn(page, 'viewer', '/settings/prices?q=gpt-4o-mini');
  await expect(page.getByTestId('prices').getByTestId('price-gpt-4o-mini')).toContainText('$0.15');
  await expect(page.getByTestId('set-submit')).toHaveCount(0);
  await expect(page.getByTestId('recompute-submit')).toHaveCount(0);
  const r = await page.request.post('/api/start_recompute', { form: { since: '2026-11-01' } });
  expect(r.status()).toBe(403);
});
