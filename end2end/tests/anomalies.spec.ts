// Anomalies: the demo's injected spike is found with its main contributor; an engineer
// acknowledges and resolves it, reports one the detector missed, and the detection rate and
// mean time to detect on the KPIs page follow.
import { test, expect, type Page } from '@playwright/test';
import { signIn } from './pages/overview';

const kpi = (page: Page, key: string) => page.locator(`tr[data-kpi="${key}"] td.value`);

async function act(page: Page, action: string, note: string, title: string) {
  await page.getByTestId('act-action').selectOption(action);
  await page.getByTestId('act-note').fill(note);
  await page.getByTestId('act-submit').click();
  await expect(page.getByTestId('anomaly-title')).toContainText(title);
}

test('an engineer works the demo spike and reports a missed one; the KPIs follow', async ({ page }) => {
  await signIn(page, 'engineering', '/kpis');
  await expect(kpi(page, 'anomaly_detection_rate')).toHaveText('100.0% (1 of 1)');
  await expect(kpi(page, 'mttd')).toHaveText('1 h 00 min (mean of 1)');

  // the inbox: the runaway loop of the demo, with the model that drove it
  await page.goto('/anomalies');
  const spike = page.getByTestId('anomalies').locator('tbody tr[data-origin="detected"]');
  await expect(spike).toHaveCount(1);
  await expect(spike).toContainText('feature ticket-triage');
  await expect(spike).toContainText('model claude-sonnet-4-5');
  await expect(spike).toContainText('1 h 00 min');
  await page.waitForSelector('body[data-hydrated]');
  await spike.getByRole('link').click();
  await expect(page.getByTestId('anomaly-title')).toContainText('feature ticket-triage');
  await expect(page.getByTestId('contributors').locator('tbody tr').first()).toContainText('claude-sonnet-4-5');
  await expect(page.locator('#chart-anomaly canvas, #chart-anomaly svg').first()).toBeVisible();

  await page.getByTestId('act-assignee').fill('engineering@demo.costroom.example');
  await act(page, 'acknowledge', 'looking at the agent loop', 'acknowledged');
  await expect(page.getByTestId('anomaly-assignee')).toContainText('engineering@demo.costroom.example');
  await act(page, 'resolve', 'loop capped at 20 calls', 'resolved');
  await expect(page.getByTestId('anomaly-events')).toContainText('resolve: loop capped at 20 calls');
  const detail = page.url();

  // one the detector missed
  await page.getByRole('link', { name: '← All anomalies' }).click();
  await expect(page.getByTestId('no-anomalies')).toBeVisible();
  await page.getByTestId('report-scope').selectOption('team');
  await page.getByTestId('report-value').fill('search');
  await page.getByTestId('report-start').fill('2026-11-12T09:00');
  await page.getByTestId('report-submit').click();
  await expect(page.getByTestId('error-note')).toContainText('say what happened');
  await page.getByTestId('report-scope').selectOption('team');
  await page.getByTestId('report-value').fill('search');
  await page.getByTestId('report-start').fill('2026-11-12T09:00');
  await page.getByTestId('report-note').fill('re-index job billed twice');
  await page.getByTestId('report-submit').click();
  await expect(page.getByTestId('report-result')).toContainText('Reported.');
  await expect(page.getByTestId('anomalies').locator('tr[data-origin="reported"]')).toContainText('team search');
  await expect(page.getByTestId('anomaly-rate')).toContainText('50.0%');

  await page.goto('/kpis');
  await expect(kpi(page, 'anomaly_detection_rate')).toHaveText('50.0% (1 of 2)');
  await expect(kpi(page, 'mttd')).toHaveText('1 h 00 min (mean of 1)');

  // called a false positive after all, the spike leaves both figures
  await page.goto(detail);
  await page.waitForSelector('body[data-hydrated]');
  await act(page, 'reopen', '', 'open');
  await act(page, 'false_positive', 'planned load test', 'false positive');
  await page.goto('/kpis');
  await expect(kpi(page, 'anomaly_detection_rate')).toHaveText('0.0% (0 of 1)');
  await expect(kpi(page, 'mttd')).toHaveText('—');
});
