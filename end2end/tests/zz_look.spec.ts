// The look at a phone's and a wide screen's width: the Overview, the explorer, a budget, an
// initiative, a trace and a review, screenshotted (test-results/screenshots, kept as the run's
// artifacts) and checked never to scroll sideways. Runs last: it only reads.
import { test, expect, type Page } from '@playwright/test';
import { signIn } from './pages/overview';

async function firstLink(page: Page, list: string, testid: string): Promise<string> {
  await page.goto(list);
  const href = await page.getByTestId(testid).locator('tbody a').first().getAttribute('href');
  expect(href, `a link in ${list}`).not.toBeNull();
  return href!;
}

test('every main page fits a phone and a wide screen, with a title naming what it shows', async ({ page }) => {
  await signIn(page, 'finance');
  const pages: [string, string][] = [
    ['overview', '/'],
    ['explorer', '/spend?group=team&range=30d'],
    ['budget', await firstLink(page, '/budgets', 'budgets')],
    ['initiative', await firstLink(page, '/initiatives', 'initiatives')],
    ['trace', await firstLink(page, '/traces', 'traces')],
    ['review', await firstLink(page, '/reviews', 'reviews')],
  ];
  for (const width of [1440, 390]) {
    await page.setViewportSize({ width, height: width > 600 ? 900 : 844 });
    for (const [name, path] of pages) {
      await page.goto(path);
      await page.waitForSelector('body[data-hydrated]');
      // charts are drawn after hydration; give them a frame
      await page.waitForTimeout(150);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${name} at ${width}px scrolls sideways by ${overflow}px`).toBeLessThanOrEqual(0);
      const title = await page.title();
      expect(title, `${name}: a title of its own`).not.toBe('Costroom');
      await page.screenshot({ path: `test-results/screenshots/${name}-${width}.png`, fullPage: true });
    }
  }
  // a keyboard user can jump past the navigation
  await page.goto('/');
  await page.keyboard.press('Tab');
  await expect(page.locator('.skip-link')).toBeFocused();
});

test('every chart has its figures as a table, and the table is the chart\'s data', async ({ page }) => {
  await signIn(page, 'finance');
  const initiative = await firstLink(page, '/initiatives', 'initiatives');
  for (const path of ['/', '/spend?group=team&range=30d', initiative]) {
    await page.goto(path);
    await page.waitForSelector('body[data-hydrated]');
    const charts = page.getByTestId('chart');
    const n = await charts.count();
    expect(n, `${path} has a chart`).toBeGreaterThan(0);
    // each chart is followed by its own folded table, or sits in a panel with a table of its figures
    for (let i = 0; i < n; i++) {
      const panel = charts.nth(i).locator('xpath=ancestor::section[1]');
      expect(await panel.locator('table').count(), `${path}: chart ${i} has a table alternative`).toBeGreaterThan(0);
    }
  }
  // the initiative's folded table opens to dated rows in dollars
  await page.goto(initiative);
  await page.waitForSelector('body[data-hydrated]');
  const table = page.getByTestId('chart-table');
  await table.locator('summary').click();
  const first = table.locator('tbody tr').first();
  await expect(first.locator('th')).toHaveText(/^\d{4}-\d{2}-\d{2}$/);
  await expect(first.locator('td').first()).toHaveText(/^−?\$[\d,]+\.\d{2}$/);
});
