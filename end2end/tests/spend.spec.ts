// The spend explorer, as finance uses it: drill from the Overview's top-team tile into the
// explorer, regroup by model after hydration (no reload), export CSV and get exactly the rows
// shown, and open the copied URL in a fresh page to see the same view. Without JavaScript the
// same form is a plain GET.
import { test, expect, type Page } from '@playwright/test';
import { readFileSync } from 'fs';
import { signIn } from './pages/overview';

/** The table as [group, cost shown] pairs, total last. */
async function tableRows(page: Page): Promise<string[][]> {
  const table = page.getByTestId('spend-table');
  const rows = await table.locator('tbody tr, tfoot tr').all();
  const out: string[][] = [];
  for (const r of rows) {
    const name = (await r.getAttribute('data-group')) ?? (await r.locator('th').innerText()).trim();
    out.push([name, (await r.locator('td').first().innerText()).trim()]);
  }
  return out;
}

test('finance drills from a team tile, regroups by model, exports CSV and shares the URL', async ({ page, browser }) => {
  await signIn(page, 'finance', '/');
  await page.waitForSelector('body[data-hydrated]');
  const first = page.locator('[data-testid="top-team"] tbody tr:not([data-value="(not set)"])').first();
  const team = await first.getAttribute('data-value');
  expect(team).toBeTruthy();
  const teamCost = (await first.locator('td').first().innerText()).trim();
  await first.locator('a').click();
  await page.waitForURL(/\/spend\?/);
  await expect(page.getByTestId('spend-table').locator(`tbody tr[data-group="${team}"]`)).toBeVisible();
  // the tile's figure is the explorer's, for the same range
  await expect(page.getByTestId('spend-total').locator('td').first()).toHaveText(teamCost);

  // after hydration the form navigates without a reload
  await page.waitForSelector('body[data-hydrated]');
  await page.evaluate(() => ((window as any).__sameDocument = true));
  await page.getByTestId('spend-group').selectOption('model');
  await page.getByTestId('spend-apply').click();
  await page.waitForURL(/group=model/);
  expect(new URL(page.url()).searchParams.getAll('team')).toEqual([team]);
  await expect(page.getByTestId('spend-title')).toContainText('by model');
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  await expect(page.locator('#chart-spend canvas, #chart-spend svg').first()).toBeVisible();
  const shown = await tableRows(page);
  expect(shown.length).toBeGreaterThan(1);
  // the models' costs add up to the team's
  expect(shown[shown.length - 1][1]).toBe(teamCost);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('spend-csv').click()]);
  const csv = readFileSync((await download.path())!, 'utf8').trim().split(/\r?\n/);
  const header = csv[0].split(',');
  expect(header[0]).toBe('model');
  const costCol = header.indexOf('cost_usd');
  const fromCsv = csv.slice(1).map((l) => {
    const cells = l.split(',');
    return [cells[0], '$' + Number(cells[costCol]).toLocaleString('en-US', { minimumFractionDigits: 2 })];
  });
  expect(fromCsv).toEqual(shown);

  // a colleague opens the copied link in a fresh page
  const url = page.url();
  const other = await page.context().newPage();
  await other.goto(url);
  await expect(other.getByTestId('spend-title')).toHaveText(await page.getByTestId('spend-title').innerText());
  expect(await tableRows(other)).toEqual(shown);
  await other.close();
});

test('sorting by a column header keeps the view and orders the rows', async ({ page }) => {
  await signIn(page, 'viewer', '/spend?group=model&range=30d');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByRole('link', { name: /^Requests/ }).click();
  await page.waitForURL(/sort=requests/);
  // the URL changes before the new rows arrive: wait for the table to say how it is sorted
  await expect(page.getByTestId('spend-table').locator('th[aria-sort="descending"]')).toContainText('Requests');
  const cells = await page.getByTestId('spend-table').locator('tbody tr td:nth-child(3)').allInnerTexts();
  const values = cells.map((c) => Number(c.replace(/,/g, '')));
  expect(values.length).toBeGreaterThan(1);
  expect([...values].sort((a, b) => b - a)).toEqual(values);
});

test('a team detail page shows the explorer row total, its breakdowns and its trend', async ({ page }) => {
  await signIn(page, 'viewer', '/spend?group=team&range=90d');
  const row = page.getByTestId('spend-table').locator('tbody tr[data-group="support"]');
  const cost = (await row.locator('td').first().innerText()).trim();
  await row.locator('a.detail-link').click();
  await page.waitForURL(/\/spend\/team\/support/);
  await expect(page.getByTestId('scope-title')).toHaveText('Team support');
  await expect(page.getByTestId('scope-total')).toHaveText(cost);
  await expect(page.getByTestId('breakdown-model')).toBeVisible();
  await expect(page.getByTestId('scope-traces')).toBeVisible();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });
  test('the explorer form is a plain GET and bad input is named', async ({ page }) => {
    await signIn(page, 'viewer', '/spend');
    await page.getByTestId('spend-group').selectOption('provider');
    await page.getByTestId('spend-gran').selectOption('week');
    await page.getByTestId('spend-apply').click();
    await page.waitForURL(/group=provider/);
    await expect(page.getByTestId('spend-title')).toContainText('by provider');
    await expect(page.getByTestId('spend-table').locator('tbody tr').first()).toBeVisible();
    await page.goto('/spend?gran=minute');
    await expect(page.getByTestId('spend-error')).toContainText('gran: unknown granularity');
  });
});
