// The bell and its inbox are per person: one person marking alerts read leaves everyone
// else's bell as it was, the bell counts exactly the unread alerts its page lists, and it
// updates without a reload.
import { test, expect, type Page } from '@playwright/test';
import { signIn } from './pages/overview';

const TODAY = process.env.COSTROOM_TODAY ?? '2026-11-20';

async function bellCount(page: Page): Promise<number> {
  const badge = page.getByTestId('alert-count');
  return (await badge.count()) === 0 ? 0 : Number(await badge.innerText());
}

test("two people's bells are independent and each counts what the inbox lists", async ({ browser }) => {
  const finCtx = await browser.newContext();
  const viewCtx = await browser.newContext();
  const fin = await finCtx.newPage();
  const viewer = await viewCtx.newPage();
  await signIn(fin, 'finance', '/alerts');
  // a one-dollar budget on the whole organisation: its thresholds are passed at once
  const r = await fin.request.post('/api/create_budget', {
    form: { name: `Bell ${Date.now()}`, scope: '', scope_value: '', period: 'month', fiscal_start_month: '1',
      recurring: 'on', start: `${TODAY.slice(0, 8)}01`, amount_usd: '1', thresholds: '50, 80', owner: 'Fi' },
  });
  expect(r.status()).toBe(200);
  await fin.reload();
  await signIn(viewer, 'viewer', '/alerts');
  for (const p of [fin, viewer]) {
    await p.waitForSelector('body[data-hydrated]');
    const listed = await p.locator('[data-testid="inbox"] li.unread').count();
    expect(listed).toBeGreaterThanOrEqual(2);
    expect(await bellCount(p)).toBe(listed);
  }
  const finBefore = await bellCount(fin);

  // the viewer reads everything: their bell empties at once (no reload), finance's does not
  await viewer.getByTestId('alerts-read').click();
  await expect(viewer.getByTestId('alerts-read-result')).toContainText('marked read');
  await expect(viewer.getByTestId('alert-count')).toHaveCount(0);
  await expect(viewer.locator('[data-testid="inbox"] li.unread')).toHaveCount(0);
  // and asking the API directly cannot reach anyone else's state either
  const again = await viewer.request.post('/api/mark_alerts_read', { form: {} });
  expect(again.status()).toBe(200);
  await fin.reload();
  expect(await bellCount(fin)).toBe(finBefore);
  await expect(fin.locator('[data-testid="inbox"] li.unread')).toHaveCount(finBefore);

  // finance reads one: the bell goes down by one, without a reload
  await fin.waitForSelector('body[data-hydrated]');
  await fin.getByTestId('alert-read-one').first().click();
  await expect(fin.getByTestId('alert-count')).toHaveText(String(finBefore - 1));
  await expect(fin.locator('[data-testid="inbox"] li.unread')).toHaveCount(finBefore - 1);
  // the bell is drawn, not an emoji
  await expect(fin.getByTestId('alert-bell').locator('svg')).toBeVisible();
  await finCtx.close();
  await viewCtx.close();
});
