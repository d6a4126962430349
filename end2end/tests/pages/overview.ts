// Page object for the Overview: locators by test id and role, as a person finds things.
import { expect, type Page, type Locator } from '@playwright/test';

export class OverviewPage {
  readonly mtd: Locator;
  readonly rangeTotal: Locator;
  readonly from: Locator;
  readonly to: Locator;
  readonly apply: Locator;
  readonly chart: Locator;

  constructor(readonly page: Page) {
    this.mtd = page.getByTestId('kpi-mtd').locator('.kpi-value');
    this.rangeTotal = page.getByTestId('kpi-range-total');
    this.from = page.getByTestId('range-from');
    this.to = page.getByTestId('range-to');
    this.apply = page.getByTestId('range-apply');
    this.chart = page.locator('#chart-daily-spend');
  }

  async goto(query = '') {
    await this.page.goto('/' + query);
  }

  async waitForHydration() {
    await this.page.waitForSelector('body[data-hydrated]');
  }

  async rangeTotalValue(): Promise<string> {
    return (await this.rangeTotal.locator('.kpi-value').innerText()).trim();
  }

  async rangeNote(): Promise<string> {
    return (await this.rangeTotal.locator('.kpi-note').innerText()).trim();
  }

  async chooseRange(from: string, to: string) {
    await this.from.fill(from);
    await this.to.fill(to);
    await this.apply.click();
  }

  async expectRange(from: string, to: string, days: number) {
    await expect(this.rangeTotal.locator('.kpi-note')).toHaveText(`${from} – ${to} · ${days} days`);
  }
}

/** "$1,234.56" -> 123456 (cents) */
export function cents(usd: string): number {
  const m = usd.replace(/,/g, '').match(/^(-?)\$(\d+)\.(\d\d)$/);
  if (!m) throw new Error(`not a dollar amount: ${usd}`);
  return (m[1] ? -1 : 1) * (Number(m[2]) * 100 + Number(m[3]));
}

/** Signs in through the sign-in page as one of the demo people (`costroom demo`). */
export async function signIn(page: Page, role = 'viewer', next = '/') {
  await page.goto('/signin?next=' + encodeURIComponent(next));
  await page.getByTestId('signin-email').fill(`${role}@demo.costroom.example`);
  await page.getByTestId('signin-password').fill(`demo-${role}-password`);
  await page.getByTestId('signin-submit').click();
  await page.waitForURL((url) => !url.pathname.startsWith('/signin'));
}
