// Agent traces: an engineer opens the most expensive trace of the last 30 days (the demo's
// runaway loop, flagged for its depth) and sees its step tree, whose step costs add up to the
// trace's total; a viewer reads traces but cannot change the limits.
import { test, expect } from '@playwright/test';
import { signIn } from './pages/overview';

const TODAY = process.env.COSTROOM_TODAY ?? '2026-11-20';

function daysBefore(day: string, n: number): string {
  const d = new Date(day + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

function usd(nanos: bigint): string {
  const cents = (nanos * 2n + 10_000_000n) / 20_000_000n; // half up, as the app rounds
  const s = (cents / 100n).toLocaleString('en-US');
  return `$${s}.${(cents % 100n).toString().padStart(2, '0')}`;
}

test('an engineer opens the costliest trace and its steps add up to its total', async ({ page }) => {
  await signIn(page, 'engineering', `/traces?from=${daysBefore(TODAY, 29)}&to=${TODAY}`);
  const first = page.getByTestId('traces').locator('tbody tr').first();
  await expect(first).toHaveClass(/flagged/);
  await expect(first.locator('td.flag')).toContainText('depth');
  const listed = (await first.locator('td').nth(1).innerText()).trim();
  const steps = Number(await first.locator('td').nth(2).innerText());
  await page.waitForSelector('body[data-hydrated]');
  await first.locator('a').click();
  await page.waitForURL(/\/traces\/runaway-/);
  await expect(page.getByTestId('trace-total')).toHaveText(listed);
  const rows = page.getByTestId('trace-steps').locator('tbody tr');
  await expect(rows).toHaveCount(steps);
  const costs = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-cost') ?? '0'));
  const sum = costs.reduce((a, c) => a + BigInt(c), 0n);
  expect(usd(sum)).toBe(listed);
  // the loop nests: each step is one level below the one before
  const levels = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-level'))));
  expect(levels).toEqual(levels.map((_, i) => i));
});

test('a viewer reads traces but has no limits form, and a direct call is refused', async ({ page }) => {
  await signIn(page, 'viewer', '/traces');
  await expect(page.getByTestId('traces-summary')).toBeVisible();
  await expect(page.getByTestId('limits-submit')).toHaveCount(0);
  const r = await page.request.post('/api/set_trace_limits', { form: { max_depth: '50', max_retries: '50' } });
  expect(r.status()).toBe(403);
});
