// Settings as each role sees it: people, teams, API keys, the audit log and one's own
// password. Every form is used after hydration, as a person would.
import { test, expect, type Page } from '@playwright/test';
import { signIn } from './pages/overview';

const ROLES = ['admin', 'finance', 'engineering', 'product', 'viewer'] as const;
// What each role may change on the settings pages (Role::can on the server).
const MAY = {
  admin: { people: true, keys: true, audit: true },
  finance: { people: false, keys: false, audit: false },
  engineering: { people: false, keys: true, audit: false },
  product: { people: false, keys: false, audit: false },
  viewer: { people: false, keys: false, audit: false },
};

async function signInHydrated(page: Page, role: string, next = '/') {
  await signIn(page, role, next);
  await page.waitForSelector('body[data-hydrated]');
}

async function signOut(page: Page) {
  await page.getByTestId('signout').click();
  await expect(page.getByTestId('signin-message')).toHaveText('You are signed out.');
}

for (const role of ROLES) {
  test(`${role} sees the controls of exactly what ${role} may change`, async ({ page }) => {
    const may = MAY[role];
    await signInHydrated(page, role, '/settings/people');
    await expect(page.getByTestId('person-admin@demo.costroom.example')).toBeVisible();
    await expect(page.getByTestId('person-submit')).toHaveCount(may.people ? 1 : 0);
    await expect(page.getByTestId('save-role-viewer@demo.costroom.example')).toHaveCount(may.people ? 1 : 0);
    await expect(page.getByRole('link', { name: 'Audit log' })).toHaveCount(may.audit ? 1 : 0);

    await page.getByRole('link', { name: 'API keys' }).click();
    await expect(page).toHaveURL(/\/settings\/keys$/);
    await expect(page.getByRole('heading', { name: 'API keys' })).toBeVisible();
    await expect(page.getByTestId('key-submit')).toHaveCount(may.keys ? 1 : 0);

    await page.goto('/settings/audit');
    if (may.audit) {
      await expect(page.getByTestId('audit')).toBeVisible();
    } else {
      await expect(page.getByTestId('forbidden')).toHaveText('Only admins can see this page.');
    }
  });
}

test('a viewer who posts a privileged change directly is refused and nothing changes', async ({ page }) => {
  await signInHydrated(page, 'viewer', '/settings/people');
  const people = await (await page.request.post('/api/list_people')).json();
  const me = people.find((p: { email: string }) => p.email === 'viewer@demo.costroom.example');
  const promote = await page.request.post('/api/change_role', { form: { user_id: String(me.id), role: 'admin' } });
  expect(promote.status()).toBe(403);
  const key = await page.request.post('/api/create_api_key', { form: { name: 'sneaky', team: 'platform', scope_read: 'on' } });
  expect(key.status()).toBe(403);
  await page.reload();
  await expect(page.getByTestId('whoami')).toHaveText('Demo viewer · viewer');
  await expect(page.getByTestId('person-viewer@demo.costroom.example')).toContainText('viewer');
});

test('an admin adds a person, changes their role; they change their password; the trail shows it all', async ({ page }) => {
  const email = 'new.analyst@example.com';
  await signInHydrated(page, 'admin', '/settings/people');
  await page.getByTestId('person-name').fill('New Analyst');
  await page.getByTestId('person-email').fill(email);
  await page.getByTestId('person-role').selectOption('viewer');
  await page.getByTestId('person-team').fill('analytics');
  await page.getByTestId('person-password').fill('first password 123');
  await page.getByTestId('person-submit').click();
  // a team nobody created is not created silently
  await expect(page.getByTestId('add-result')).toContainText("there is no team 'analytics'");
  await page.getByTestId('person-create-team').check();
  await page.getByTestId('person-submit').click();
  await expect(page.getByTestId('add-result')).toHaveText(`Added ${email} as viewer.`);
  const row = page.getByTestId(`person-${email}`);
  await expect(row).toContainText('analytics');

  await page.getByTestId(`role-${email}`).selectOption('finance');
  await page.getByTestId(`save-role-${email}`).click();
  await expect(page.getByTestId('role-result')).toHaveText(`${email} is now finance.`);
  await signOut(page);

  // the new person signs in with the initial password and replaces it
  await page.goto('/signin?next=%2Faccount');
  await page.getByTestId('signin-email').fill(email);
  await page.getByTestId('signin-password').fill('first password 123');
  await page.getByTestId('signin-submit').click();
  await page.waitForURL(/\/account$/);
  await page.waitForSelector('body[data-hydrated]');
  await expect(page.getByTestId('account-who')).toHaveText(`New Analyst · ${email} · finance`);
  await page.getByTestId('current-password').fill('not my password');
  await page.getByTestId('new-password').fill('second password 456');
  await page.getByTestId('password-submit').click();
  await expect(page.getByTestId('password-result')).toHaveText('current_password: that is not your current password');
  await page.getByTestId('current-password').fill('first password 123');
  await page.getByTestId('password-submit').click();
  await expect(page.getByTestId('password-result')).toHaveText('Password changed.');
  await signOut(page);
  await page.getByTestId('signin-email').fill(email);
  await page.getByTestId('signin-password').fill('second password 456');
  await page.getByTestId('signin-submit').click();
  await expect(page.getByTestId('whoami')).toHaveText('New Analyst · finance');
  await signOut(page);

  // the admin reads the trail, filters it, and the CSV link carries the filter
  await signInHydrated(page, 'admin', '/settings/audit');
  const rows = page.getByTestId('audit-row');
  await expect(rows.filter({ hasText: `${email} added as viewer` })).toHaveCount(1);
  await expect(rows.filter({ hasText: `${email} changed their password` })).toHaveCount(1);
  await page.getByTestId('audit-action').fill('role');
  await page.getByTestId('audit-apply').click();
  await expect(page).toHaveURL(/action=role/);
  await expect(page.getByTestId('audit-count')).toHaveText('1 change');
  await expect(rows.first()).toContainText('admin@demo.costroom.example');
  await expect(rows.first()).toContainText('role: viewer → finance');
  await expect(page.getByTestId('audit-csv')).toHaveAttribute('href', /\/settings\/audit\.csv\?.*action=role/);
  const csv = await page.request.get((await page.getByTestId('audit-csv').getAttribute('href'))!);
  expect(csv.status()).toBe(200);
  const lines = (await csv.text()).trim().split('\r\n');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(`,user.role,user,${email},`);
  expect(lines[1]).toMatch(/,role,viewer,finance$/);
});

test('engineering creates a key, sees its token once, and a revoked key stops working', async ({ page }) => {
  await signInHydrated(page, 'engineering', '/settings/keys');
  await page.getByTestId('key-name').fill('support gateway');
  await page.getByTestId('key-team').selectOption('platform');
  await page.getByTestId('scope-read').check();
  await page.getByTestId('key-expires').fill('30');
  await page.getByTestId('key-submit').click();
  const token = (await page.getByTestId('new-key-token').innerText()).trim();
  expect(token).toMatch(/^cr_[A-Za-z0-9]{10}_[A-Za-z0-9]{32}$/);
  const row = page.getByTestId('key-support gateway');
  await expect(row).toContainText('ingest, read');
  await expect(row).toContainText('engineering@demo.costroom.example');
  await expect(row.getByTestId('key-status')).toContainText('active');

  const check = () => page.request.get('/api/v1/key', { headers: { Authorization: `Bearer ${token}` } });
  expect((await check()).status()).toBe(200);
  await page.reload();
  await expect(page.getByTestId('new-key-token')).toHaveCount(0);
  await expect(page.locator('body')).not.toContainText(token.slice(14));

  await page.waitForSelector('body[data-hydrated]');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByTestId('revoke-result')).toContainText('revoked');
  await expect(row.getByTestId('key-status')).toContainText('revoked');
  expect((await check()).status()).toBe(401);
});

test('engineering maps OpenTelemetry attributes to teams; a viewer only reads the mapping', async ({ page }) => {
  await signInHydrated(page, 'engineering', '/settings/keys');
  await expect(page.getByTestId('map-feature')).toHaveValue('costroom.feature, service.name');
  await page.getByTestId('map-team').fill('app.team, costroom.team');
  await page.getByTestId('map-submit').click();
  await expect(page.getByTestId('map-result')).toHaveText('Mapping saved.');
  await page.reload();
  await expect(page.getByTestId('map-team')).toHaveValue('app.team, costroom.team');
  await signOut(page);
  await signInHydrated(page, 'viewer', '/settings/keys');
  await expect(page.getByTestId('otel-mapping')).toContainText('app.team, costroom.team');
  await expect(page.getByTestId('map-submit')).toHaveCount(0);
});
