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
  // the loop nests: each step is one level below the one before, listed after its parent,
  // in time order, with its bar on the timeline
  const levels = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-level'))));
  expect(levels).toEqual(levels.map((_, i) => i));
  expect(steps).toBe(40);
  const parents = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-parent') ?? ''));
  parents.forEach((p, i) => { if (p !== '') expect(Number(p)).toBeLessThan(i); });
  const at = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-at'))));
  expect(at).toEqual([...at].sort((a, b) => a - b));
  await expect(rows.locator('.span-bar')).toHaveCount(40);
  // latency is known and the table fits its panel (a retry chain 39 deep is drawn flat)
  await expect(rows.nth(5).locator('td.num').first()).not.toHaveText('—');
  const overflow = await page.getByTestId('trace-steps').evaluate((t) => t.scrollWidth - (t.parentElement?.clientWidth ?? 0));
  expect(overflow).toBeLessThanOrEqual(1);
  // folding the chain's head hides the 39 retries under it, and unfolding brings them back
  await rows.first().getByTestId('fold').click();
  await expect(page.locator('[data-testid="trace-steps"] tbody tr:visible')).toHaveCount(1);
  await rows.first().getByTestId('fold').click();
  await expect(page.locator('[data-testid="trace-steps"] tbody tr:visible')).toHaveCount(40);
});

test('the list counts every trace, pages through them and filters on depth', async ({ page }) => {
  await signIn(page, 'viewer', `/traces?from=${daysBefore(TODAY, 89)}&to=${TODAY}`);
  const summary = page.getByTestId('traces-summary');
  const total = Number((await summary.innerText()).match(/^([\d,]+) traces/)![1].replace(/,/g, ''));
  expect(total).toBeGreaterThan(50);
  await expect(page.getByTestId('traces').locator('tbody tr')).toHaveCount(50);
  await expect(page.getByTestId('traces-page')).toHaveText(`page 1 of ${Math.ceil(total / 50)}`);
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('traces-next').click();
  await expect(page.getByTestId('traces-page')).toHaveText(`page 2 of ${Math.ceil(total / 50)}`);
  await expect(summary).toContainText('showing 51 –');
  // deeper than 10: only the runaway loops, each counted once
  await page.getByTestId('filter-min-depth').fill('10');
  await page.getByTestId('traces-apply').click();
  await expect(summary).toContainText('that pass the filters');
  const ids = await page.getByTestId('traces').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-trace') ?? ''));
  expect(ids.length).toBeGreaterThan(0);
  expect(ids.every((id) => id.startsWith('runaway-'))).toBe(true);
  const filtered = Number((await summary.innerText()).match(/^([\d,]+) traces/)![1].replace(/,/g, ''));
  expect(filtered).toBe(ids.length);
});

test('a viewer reads traces but has no limits form, and a direct call is refused', async ({ page }) => {
  await signIn(page, 'viewer', '/traces');
  await expect(page.getByTestId('traces-summary')).toBeVisible();
  await expect(page.getByTestId('limits-submit')).toHaveCount(0);
  const r = await page.request.post('/api/set_trace_limits', { form: { max_depth: '50', max_retries: '50' } });
  expect(r.status()).toBe(403);
});
