// First paint on a cold browser over loopback: for each round a fresh browser context (no
// cache, no cookies) signs in, then opens the Overview and records first contentful paint and
// the moment the page is hydrated (clickable). Prints p50 / p95 / max of each in ms.
//   BASE_URL=http://127.0.0.1:3000 ROUNDS=10 node bench/first-paint.mjs
import { chromium } from '@playwright/test';

const base = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
const rounds = Number(process.env.ROUNDS ?? 10);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const fcp = [];
const hydrated = [];
const bytes = [];
for (let i = 0; i < rounds; i++) {
  const context = await browser.newContext();
  const signin = await context.request.post(`${base}/auth/signin`, {
    form: { email: 'finance@demo.costroom.example', password: 'demo-finance-password', next: '/' },
    maxRedirects: 0,
  });
  if (signin.status() !== 303 && signin.status() !== 302) throw new Error(`sign-in: HTTP ${signin.status()}`);
  const page = await context.newPage();
  const sizes = [];
  page.on('requestfinished', (r) => sizes.push(r.sizes().then((s) => s.responseBodySize + s.responseHeadersSize)));
  const t0 = Date.now();
  await page.goto(`${base}/`, { waitUntil: 'commit' });
  await page.waitForSelector('body[data-hydrated]', { timeout: 60_000 });
  hydrated.push(Date.now() - t0);
  const paint = await page.evaluate(() =>
    performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime ?? NaN);
  fcp.push(paint);
  bytes.push((await Promise.all(sizes)).reduce((a, b) => a + b, 0));
  await context.close();
}
await browser.close();
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length, Math.max(1, Math.ceil(s.length * q))) - 1];
  return `p50 ${at(0.5).toFixed(0)}  p95 ${at(0.95).toFixed(0)}  max ${s[s.length - 1].toFixed(0)}`;
};
console.log(`first paint on a cold browser, ${rounds} rounds against ${base}`);
console.log(`  first contentful paint ms: ${stats(fcp)}`);
console.log(`  hydrated (clickable) ms:   ${stats(hydrated)}`);
console.log(`  bytes over the wire (headers + encoded bodies): ${stats(bytes)}`);
