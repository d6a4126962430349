// Signing in and out as the demo people, with and without JavaScript.
import { test, expect } from '@playwright/test';
import { signIn } from './pages/overview';

const ROLES = ['admin', 'finance', 'engineering', 'product', 'viewer'];

test('anonymous visitors are sent to sign in and come back to where they were going', async ({ page }) => {
  await page.goto('/?from=2026-11-01&to=2026-11-07');
  await expect(page).toHaveURL(/\/signin\?next=/);
  await page.getByTestId('signin-email').fill('finance@demo.costroom.example');
  await page.getByTestId('signin-password').fill('demo-finance-password');
  await page.getByTestId('signin-submit').click();
  await expect(page).toHaveURL(/\/\?from=2026-11-01&to=2026-11-07$/);
  await expect(page.getByTestId('kpi-range-total').locator('.kpi-note')).toHaveText('2026-11-01 – 2026-11-07 · 7 days');
});

for (const role of ROLES) {
  test(`signs in as ${role} and sees who is signed in`, async ({ page }) => {
    await signIn(page, role);
    await page.waitForSelector('body[data-hydrated]');
    await expect(page.getByTestId('whoami')).toHaveText(`Demo ${role} · ${role}`);
    await expect(page.getByTestId('kpi-mtd')).toBeVisible();
  });
}

test('a wrong password is refused with one message, and sign-out ends the session', async ({ page }) => {
  await page.goto('/signin');
  await page.getByTestId('signin-email').fill('admin@demo.costroom.example');
  await page.getByTestId('signin-password').fill('not-the-password');
  await page.getByTestId('signin-submit').click();
  await expect(page.getByTestId('signin-message')).toHaveText('That e-mail and password do not match an account.');

  await signIn(page, 'admin');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('signout').click();
  await expect(page.getByTestId('signin-message')).toHaveText('You are signed out.');
  await page.goto('/');
  await expect(page).toHaveURL(/\/signin\?next=/);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('sign-in and sign-out work as plain form posts', async ({ page }) => {
    await signIn(page, 'engineering');
    await expect(page.getByTestId('whoami')).toHaveText('Demo engineering · engineering');
    await expect(page.getByTestId('kpi-mtd').locator('.kpi-value')).toHaveText(/^\$[\d,]+\.\d\d$/);
    await page.getByTestId('signout').click();
    await expect(page.getByTestId('signin-message')).toHaveText('You are signed out.');
  });
});
