// Guardrails: engineering adds a spend cap in shadow mode, replays it over the last 30 days,
// switches it to enforce, and the denial of a call through the authorize API shows up in the
// decision log; a viewer sees the page but can change nothing. A per-call rule set to clamp lowers
// max_tokens instead of denying.
import { test, expect } from '@playwright/test';
import { signIn } from './pages/overview';

// gpt-4o at $2.50 / $10 per million: 20,000 in and 5,000 out at most = $0.10
const CALL = { provider: 'openai', model: 'gpt-4o', input_tokens: 20000, max_tokens: 5000 };

test('a shadow cap is replayed, enforced, and its denial is logged; a viewer only reads', async ({ page, browser }) => {
  await signIn(page, 'engineering', '/settings/keys');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('key-name').fill(`guard e2e ${Date.now()}`);
  await page.getByTestId('key-team').selectOption('platform');
  await page.getByTestId('scope-authorize').check();
  await page.getByTestId('key-submit').click();
  const token = (await page.getByTestId('new-key-token').innerText()).trim();
  const authorize = () =>
    page.request.post('/api/v1/authorize', { headers: { Authorization: `Bearer ${token}` }, data: CALL });

  await page.goto('/guardrails');
  await page.waitForSelector('body[data-hydrated]');
  const name = `platform cap ${Date.now()}`;
  await page.getByTestId('rule-name').fill(name);
  await page.getByTestId('rule-scope').selectOption('team');
  await page.getByTestId('rule-scope-value').fill('platform');
  await expect(page.getByTestId('rule-mode-input')).toHaveValue('shadow');
  await page.getByTestId('rule-period').selectOption('month');
  await page.getByTestId('rule-amount').fill('0.15');
  await page.getByTestId('rule-submit').click();
  await expect(page.getByTestId('rule-result')).toContainText('Rule saved.');
  const row = page.getByTestId(`rule-${name}`);
  await expect(row.getByTestId('rule-mode')).toHaveText('shadow');
  await expect(row.getByTestId('rule-headroom')).toContainText('$0.00 of $0.15 this month');

  // what it would have done: the demo's platform team spends far more than $0.15 a month
  await page.getByTestId('replay-run').click();
  await expect(page.getByTestId('replay-total')).toContainText('the rules would have denied');
  const denied = Number(await page.getByTestId(`replay-${name}`).getByTestId('replay-denied').innerText());
  expect(denied).toBeGreaterThan(0);

  // in shadow the second call passes the cap and is allowed, with a warning
  expect((await authorize()).status()).toBe(200);
  const warned = await authorize();
  expect(warned.status()).toBe(200);
  expect((await warned.json()).warnings[0].code).toBe('budget_exhausted');

  const id = await row.getAttribute('data-rule-id');
  await page.getByTestId(`mode-${id}`).click();
  await expect(page.getByTestId('mode-result')).toContainText('Mode changed.');
  await expect(row.getByTestId('rule-mode')).toHaveText('enforce');

  const refused = await authorize();
  expect(refused.status()).toBe(402);
  expect((await refused.json()).denied[0].code).toBe('budget_exhausted');

  await page.reload();
  await page.waitForSelector('body[data-hydrated]');
  const log = page.getByTestId('decision-log');
  await expect(log.locator('tr.decision-denied').first()).toContainText('budget_exhausted');
  await expect(log.locator('tr.decision-denied').first()).toContainText(name);
  await expect(row.getByTestId('hits-24h')).toHaveText('2');
  await expect(row.getByTestId('rule-headroom')).toContainText('$0.20 of $0.15 this month, 2 reservations open');
  // the filter narrows the log to this rule's budget decisions: the denial and the warning
  await page.getByTestId('filter-rule').selectOption(id!);
  await page.getByTestId('filter-code').selectOption('budget_exhausted');
  await page.getByTestId('filter-apply').click();
  await expect(page).toHaveURL(/code=budget_exhausted/);
  await expect(log.locator('tr[data-testid="decision"]')).toHaveCount(2);
  const csv = await page.request.get(await page.getByTestId('decisions-csv').getAttribute('href') ?? '');
  expect(csv.status()).toBe(200);
  expect((await csv.text()).trim().split('\n')).toHaveLength(3);

  // a viewer reads the same page and cannot change it
  const ctx = await browser.newContext();
  const viewer = await ctx.newPage();
  await signIn(viewer, 'viewer', '/guardrails');
  await viewer.waitForSelector('body[data-hydrated]');
  await expect(viewer.getByTestId(`rule-${name}`).getByTestId('rule-mode')).toHaveText('enforce');
  await expect(viewer.getByTestId('rule-form')).toHaveCount(0);
  await expect(viewer.getByTestId(`mode-${id}`)).toHaveCount(0);
  const sneak = await viewer.request.post('/api/set_guardrail_mode', { form: { id: id!, mode: 'shadow' } });
  expect(sneak.status()).toBe(403);
  await ctx.close();
});

test('a per-call rule set to clamp lowers max_tokens instead of denying, and says so', async ({ page }) => {
  await signIn(page, 'engineering', '/settings/keys');
  await page.waitForSelector('body[data-hydrated]');
  await page.getByTestId('key-name').fill(`clamp e2e ${Date.now()}`);
  // another team: the first test leaves platform's cap exhausted
  await page.getByTestId('key-team').selectOption('support');
  await page.getByTestId('scope-authorize').check();
  await page.getByTestId('key-submit').click();
  const token = (await page.getByTestId('new-key-token').innerText()).trim();
  // a feature of its own, so the clamp does not touch the other test's calls
  const feature = `clamp-e2e-${Date.now()}`;

  await page.goto('/guardrails');
  await page.waitForSelector('body[data-hydrated]');
  const name = `short answers ${Date.now()}`;
  await page.getByTestId('rule-name').fill(name);
  await page.getByTestId('rule-scope').selectOption('feature');
  await page.getByTestId('rule-scope-value').fill(feature);
  await page.getByTestId('rule-mode-input').selectOption('enforce');
  await page.getByTestId('rule-limit').selectOption('request');
  await page.locator('input[name="max_tokens"]').fill('1000');
  await page.getByTestId('rule-clamp').selectOption('true');
  await page.getByTestId('rule-submit').click();
  await expect(page.getByTestId('rule-result')).toContainText('Rule saved.');
  const row = page.getByTestId(`rule-${name}`);
  await expect(row).toContainText('max_tokens clamped to 1000');

  const answer = await page.request.post('/api/v1/authorize', {
    headers: { Authorization: `Bearer ${token}` },
    data: { ...CALL, feature },
  });
  expect(answer.status()).toBe(200);
  const body = await answer.json();
  expect(body.max_tokens).toBe(1000);
  // 20,000 in at $2.50/M and 1,000 out at $10/M: $0.06 held, not the $0.10 of 5,000 out
  expect(body.worst_case_nanos).toBe(60_000_000);
  expect(body.warnings[0].code).toBe('max_tokens_clamped');

  await page.reload();
  await page.waitForSelector('body[data-hydrated]');
  const logged = page.getByTestId('decision-log').locator('tr[data-testid="decision"]', { hasText: name });
  await expect(logged.first()).toContainText('max_tokens_clamped');
  await expect(logged.first()).toContainText('max_tokens 5000 lowered to 1000');
});
