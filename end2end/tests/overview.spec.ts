// The whole path: database -> server function -> SSR page -> WASM hydration -> chart, and the
// date range both after hydration (no reload) and without JavaScript (GET form).
// The server runs on a fresh SQLite file seeded with demo seed 42 and "today" = COSTROOM_TODAY.
import { test, expect } from '@playwright/test';
import { OverviewPage, cents, signIn } from './pages/overview';

const TODAY = process.env.COSTROOM_TODAY ?? '2026-11-20';

test.beforeEach(async ({ page }) => {
  await signIn(page, 'viewer');
});

test('SSR HTML carries the month-to-date figures before any script runs', async ({ page }) => {
  const res = await page.request.get('/');
  expect(res.status()).toBe(200);
  const html = await res.text();
  const mtd = html.match(/data-testid="kpi-mtd"[^>]*>.*?class="kpi-value">([^<]+)</s);
  expect(mtd, 'month-to-date tile in the HTML').not.toBeNull();
  expect(cents(mtd![1])).toBeGreaterThan(0);
  // the default range is the last 90 days, one table row per day, all in the server's HTML
  const rows = html.match(/<tr><td>\d{4}-\d\d-\d\d<\/td>/g) ?? [];
  expect(rows.length).toBe(90);
  expect(html).toContain(`<td>${TODAY}</td>`);
  expect(html).toContain('/vendor/echarts.min.js');
});

test('hydrates, draws the chart and shows the same numbers as the SSR HTML', async ({ page }) => {
  const request = page.request;
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const html = await (await request.get('/')).text();
  const ssrMtd = html.match(/data-testid="kpi-mtd"[^>]*>.*?class="kpi-value">([^<]+)</s)![1];

  const overview = new OverviewPage(page);
  await overview.goto();
  await overview.waitForHydration();
  await expect(overview.chart.locator('canvas, svg').first()).toBeVisible();
  await expect(overview.mtd).toHaveText(ssrMtd);
  await overview.expectRange(addDays(TODAY, -89), TODAY, 90);
  // the chart arrives as JSON from the server; its tooltip still writes dollars with cents
  const box = (await overview.chart.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
  await expect(overview.chart).toContainText(/Spend \(USD\)\s*\$[\d,]+\.\d\d/);
  expect(errors, 'no console errors').toEqual([]);
});

test('changing the date range updates the figures without a reload', async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await overview.waitForHydration();
  const before = await overview.rangeTotalValue();
  await page.evaluate(() => { (window as any).__noReload = 'still here'; });

  const from = addDays(TODAY, -6);
  await overview.chooseRange(from, TODAY);
  await overview.expectRange(from, TODAY, 7);
  await expect(page).toHaveURL(new RegExp(`from=${from}&to=${TODAY}`));
  const week = await overview.rangeTotalValue();
  expect(cents(week)).toBeGreaterThan(0);
  expect(cents(week)).toBeLessThan(cents(before));

  // a preset link, also client-side
  await page.getByRole('link', { name: 'Last 30 days' }).click();
  await overview.expectRange(addDays(TODAY, -29), TODAY, 30);
  const month = await overview.rangeTotalValue();
  expect(cents(month)).toBeGreaterThan(cents(week));

  expect(await page.evaluate(() => (window as any).__noReload)).toBe('still here');
  await expect(overview.chart.locator('canvas, svg').first()).toBeVisible();
});

test('a bad range is refused with a message naming the field', async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await overview.waitForHydration();
  await overview.chooseRange(TODAY, addDays(TODAY, -3));
  await expect(page.getByTestId('range-error')).toHaveText(`from: ${TODAY} is after to: ${addDays(TODAY, -3)}`);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the GET form changes the range and shows the same figures as with JavaScript', async ({ page, browser }) => {
    const overview = new OverviewPage(page);
    await overview.goto();
    await expect(page.getByTestId('whoami')).toContainText('viewer');
    await expect(overview.mtd).toHaveText(/^\$[\d,]+\.\d\d$/);
    const from = addDays(TODAY, -6);
    await overview.chooseRange(from, TODAY);
    await expect(page).toHaveURL(new RegExp(`from=${from}&to=${TODAY}`));
    await overview.expectRange(from, TODAY, 7);
    const noJs = await overview.rangeTotalValue();

    const ctx = await browser.newContext({ javaScriptEnabled: true });
    const jsPage = await ctx.newPage();
    await signIn(jsPage, 'finance');
    const withJs = new OverviewPage(jsPage);
    await withJs.goto(`?from=${from}&to=${TODAY}`);
    await withJs.waitForHydration();
    expect(await withJs.rangeTotalValue()).toBe(noJs);
    await ctx.close();
  });
});

test('every section is reachable from the navigation, and unknown pages are 404', async ({ page }) => {
  await page.goto('/');
  await page.waitForSelector('body[data-hydrated]');
  // the navigation's link (the Overview's budget tile links there too)
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Budgets', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Budgets');
  await page.getByRole('link', { name: 'Overview' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Overview');
  const res = await page.goto('/definitely-not-here');
  expect(res?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
});

function addDays(day: string, n: number): string {
  const d = new Date(day + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

test('a comparison with a period only partly covered by data says so and shows no change', async ({ page }) => {
  // the demo holds 120 days: the 90 days before the default 90-day range hold only 30 of them
  await page.goto('/');
  const note = page.getByTestId('partial-period');
  await expect(note).toBeVisible();
  await expect(note).toContainText('of its 90 days');
  await expect(page.getByTestId('top-team').locator('td.num.muted').first()).toHaveText('—');
  // the last 30 days compare with 30 days that all hold data: changes are shown
  const to = new Date(`${TODAY}T00:00:00Z`);
  const from = new Date(to.getTime() - 29 * 86_400_000).toISOString().slice(0, 10);
  await page.goto(`/?from=${from}&to=${TODAY}`);
  await expect(page.getByTestId('kpi-mtd')).toBeVisible();
  await expect(page.getByTestId('partial-period')).toHaveCount(0);
  await expect(page.getByTestId('top-team').locator('td.num.muted').first()).toHaveText(/^[+-]\d/);
});
