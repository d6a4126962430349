// End-to-end tests in Debian's Chromium (never `npx playwright install`: no browser downloads
// here). `make e2e` builds, seeds a fresh SQLite file and sets the variables below.
import { defineConfig } from '@playwright/test';

const port = process.env.E2E_PORT ?? '3000';
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: process.env.COSTROOM_BIN
    ? {
        command: `"${process.env.COSTROOM_BIN}" serve --addr 127.0.0.1:${port}`,
        url: `${baseURL}/healthz`,
        reuseExistingServer: false,
        timeout: 60_000,
        stdout: 'pipe',
        stderr: 'pipe',
        env: {
          DATABASE_URL: process.env.COSTROOM_DB ?? '',
          LEPTOS_SITE_ROOT: process.env.COSTROOM_SITE ?? '../target/site',
          COSTROOM_TODAY: process.env.COSTROOM_TODAY ?? '',
          COSTROOM_LOG: 'warn',
          // the test's own webhook receiver listens on loopback, which is refused by default
          COSTROOM_WEBHOOK_ALLOW: '127.0.0.1',
          // encrypts the gateway's provider keys (a test key: 32 bytes of 0x5e)
          COSTROOM_SECRET_KEY: '5e'.repeat(32),
        },
      }
    : undefined,
});
