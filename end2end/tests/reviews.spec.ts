// Cost reviews and maturity: the demo's scheduled review is there; a finance user records a
// decision and an action item, closes it (the figures freeze) and prints it with the print
// stylesheet; the maturity page shows the demo organisation's stage with its evidence.
import { test, expect } from '@playwright/test';
import { signIn } from './pages/overview';

test('finance records a decision and an action item, closes the demo review and prints it', async ({ page }) => {
  await signIn(page, 'finance', '/reviews');
  const row = page.getByTestId('reviews').locator('tbody tr').first();
  await expect(row).toContainText('Organisation cost review, 2026-11-09 to 2026-11-15');
  await expect(page.getByTestId('upcoming')).toContainText('next meeting 2026-11-23');
  await page.waitForSelector('body[data-hydrated]');
  await row.getByRole('link').click();
  await expect(page.getByTestId('review-title')).toContainText('Organisation cost review');
  // the demo's budgets (other tests may add their own)
  await expect(page.getByTestId('review-budgets')).toContainText('All AI');

  await page.getByTestId('decision-text').fill('Cap ticket-triage agent loops at 20 calls');
  await page.getByTestId('decision-submit').click();
  await expect(page.getByTestId('review-decisions')).toContainText('Cap ticket-triage agent loops at 20 calls — finance@demo.costroom.example');
  await page.getByTestId('action-title').fill('Add a loop guard to the triage agent');
  await page.getByTestId('action-owner').fill('engineering@demo.costroom.example');
  await page.getByTestId('action-due').fill('2026-11-27');
  await page.getByTestId('action-submit').click();
  await expect(page.getByTestId('review-actions')).toContainText('Add a loop guard to the triage agent — engineering@demo.costroom.example (due 2026-11-27)');

  const spend = await page.getByTestId('review-spend').innerText();
  await page.getByTestId('review-close').click();
  await expect(page.getByTestId('review')).toHaveAttribute('data-closed', 'true');
  await expect(page.getByTestId('review-state')).toContainText('Closed');
  await expect(page.getByTestId('review-spend')).toHaveText(spend);
  await expect(page.getByTestId('decision-submit')).toHaveCount(0);

  // printed: the print stylesheet leaves one clean document
  await page.emulateMedia({ media: 'print' });
  await expect(page.locator('header.topbar')).toBeHidden();
  await expect(page.getByTestId('review-print')).toBeHidden();
  await expect(page.getByTestId('review-decisions')).toBeVisible();
  const pdf = await page.pdf({ format: 'A4' });
  expect(pdf.subarray(0, 4).toString()).toBe('%PDF');
  await page.emulateMedia({ media: 'screen' });
  await expect(page.getByTestId('review-print')).toBeVisible();

  await page.goto('/reviews');
  await expect(page.getByTestId('reviews').locator('tbody tr').first()).toContainText('closed');
  await expect(page.getByTestId('open-actions')).toContainText('Add a loop guard to the triage agent');
});

test('the maturity page shows the demo organisation\'s stage with its evidence', async ({ page }) => {
  await signIn(page, 'admin', '/maturity');
  await expect(page.getByTestId('maturity-stage')).toContainText('Not started');
  await expect(page.locator('tr[data-item="tag_coverage"]').getByTestId('evidence')).toContainText('(needs ≥ 90.0%)');
  // (the anomalies test may have called the demo's spike a false positive: no figure then)
  await expect(page.locator('tr[data-item="mttd"]').getByTestId('evidence')).toContainText('(needs ≤ 1 h 00 min)');
  await expect(page.locator('tr[data-item="roi_defined"]')).toHaveAttribute('data-met', 'true');
  await expect(page.getByTestId('next-steps')).toContainText('Objectives for AI spend are written down and agreed');

  // the two alignment items ticked by hand, with their evidence: stage 0 is reached, and with
  // it stage 1, whose items the demo's data already meets
  await page.waitForSelector('body[data-hydrated]');
  for (const key of ['objectives', 'ownership']) {
    const item = page.locator(`tr[data-item="${key}"]`);
    await item.getByText('Update').click();
    await item.getByTestId(`done-${key}`).selectOption('yes');
    await item.getByTestId(`evidence-${key}`).fill(`https://wiki.example/${key}`);
    await item.getByTestId(`save-${key}`).click();
    await expect(page.locator(`tr[data-item="${key}"]`)).toHaveAttribute('data-met', 'true');
  }
  // Team tag coverage is scored from the same figure the Coverage page shows: the demo tags
  // ~97 % of its spend, but the ledger test's untagged training run and commitment pull this
  // month below the 90 % line when it runs first, so the item is checked against its figure
  const tag = page.locator('tr[data-item="tag_coverage"]');
  const pct = Number((await tag.getByTestId('evidence').innerText()).match(/([\d.]+)%/)![1]);
  await expect(tag).toHaveAttribute('data-met', String(pct >= 90));
  // (stage 1 when tags and the demo's anomaly figures are untouched; other tests may change them)
  await expect(page.getByTestId('maturity-stage')).toHaveText(/^Stage [01] · /);
  const stage = await page.getByTestId('maturity-stage').innerText();
  const next = stage.startsWith('Stage 1')
    ? 'Chargeback statements make teams own what they consume'
    : pct >= 90 ? 'The AI KPIs are measured' : 'AI calls and resources are tagged with a team';
  await expect(page.getByTestId('next-steps')).toContainText(next);
  await expect(page.locator('tr[data-item="objectives"]').getByTestId('evidence')).toContainText('https://wiki.example/objectives');
  await expect(page.getByTestId('maturity-history')).toContainText(stage);
});
