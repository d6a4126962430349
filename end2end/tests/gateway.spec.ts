// The gateway with the official SDKs: engineering sets the OpenAI and Anthropic upstreams (a
// local fake provider written here) and a gateway key on the pages, then the `openai` and
// `@anthropic-ai/sdk` npm packages, pointed at Costroom, call it unchanged — plain and
// streaming — and the calls appear in their trace with their cost. A viewer reads the page
// but cannot change the upstreams, and never sees a provider key.
import { test, expect } from '@playwright/test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { signIn } from './pages/overview';

const PROVIDER_KEY = 'sk-e2e-provider-secret-9876';

type Seen = { path: string; credential: string; costroomHeaders: string[]; body: any };

/** A provider stand-in: OpenAI chat completions and Anthropic messages, plain and streamed. */
function fakeProvider(): Promise<{ base: string; seen: Seen[]; close: () => void }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : null;
      seen.push({
        path: req.url ?? '',
        credential: String(req.headers['authorization'] ?? req.headers['x-api-key'] ?? ''),
        costroomHeaders: Object.keys(req.headers).filter((h) => h.startsWith('x-costroom-')),
        body,
      });
      const sse = (events: string[]) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const e of events) res.write(e);
        res.end();
      };
      if (req.url === '/v1/chat/completions') {
        const usage = { prompt_tokens: 500, completion_tokens: 40, total_tokens: 540 };
        const model = 'gpt-4o-mini-2024-07-18';
        if (body.stream) {
          const chunk = (delta: object, extra: object = {}) =>
            `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
          const events = [chunk({ role: 'assistant', content: 'Hello' }), chunk({ content: ' there' })];
          if (body.stream_options?.include_usage) {
            events.push(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [], usage })}\n\n`);
          }
          events.push('data: [DONE]\n\n');
          return sse(events);
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' }], usage }));
      }
      if (req.url === '/v1/messages') {
        const model = body.model;
        const usage = { input_tokens: 10, cache_read_input_tokens: 1000, cache_creation_input_tokens: 0, output_tokens: 50 };
        if (body.stream) {
          const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
          return sse([
            ev('message_start', { message: { id: 'm1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }),
            ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
            ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello there' } }),
            ev('content_block_stop', { index: 0 }),
            ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 50 } }),
            ev('message_stop', {}),
          ]);
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ id: 'm1', type: 'message', role: 'assistant', model,
          content: [{ type: 'text', text: 'Hello there' }], stop_reason: 'end_turn', stop_sequence: null, usage }));
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'no such route', type: 'invalid_request_error' } }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ base: `http://127.0.0.1:${port}/v1`, seen, close: () => server.close() });
    }),
  );
}

test('the OpenAI and Anthropic SDKs call through the gateway unchanged and the calls are priced', async ({ page, browser, baseURL }) => {
  const fake = await fakeProvider();
  try {
    await signIn(page, 'engineering', '/settings/keys');
    await page.waitForSelector('body[data-hydrated]');
    await page.getByTestId('key-name').fill(`gateway e2e ${Date.now()}`);
    await page.getByTestId('key-team').selectOption('platform');
    await page.getByTestId('scope-ingest').uncheck();
    await page.getByTestId('scope-gateway').check();
    await page.getByTestId('key-submit').click();
    const token = (await page.getByTestId('new-key-token').innerText()).trim();

    await page.goto('/settings/gateway');
    await page.waitForSelector('body[data-hydrated]');
    for (const provider of ['openai', 'anthropic']) {
      await page.getByTestId('upstream-provider').selectOption(provider);
      await page.getByTestId('upstream-url').fill(fake.base);
      await page.getByTestId('upstream-key').fill(PROVIDER_KEY);
      await page.getByTestId('upstream-submit').click();
      await expect(page.getByTestId('upstream-result')).toContainText(`${provider} upstream saved (key …9876)`);
      await expect(page.getByTestId(`upstream-${provider}`).getByTestId('key-hint')).toHaveText('…9876');
    }
    await expect(page.getByTestId('snippet-py-openai')).toContainText(`${baseURL}/gateway/openai/v1`);
    await expect(page.getByTestId('gateway-keys')).toContainText(token.slice(0, 13));
    expect(await page.content()).not.toContain(PROVIDER_KEY);

    const trace = `e2e-gw-${Date.now()}`;
    const headers = { 'x-costroom-feature': 'e2e-gateway', 'x-costroom-trace-id': trace };
    const openai = new OpenAI({ baseURL: `${baseURL}/gateway/openai/v1`, apiKey: token, defaultHeaders: headers, maxRetries: 0 });
    const plain = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(plain.choices[0].message.content).toBe('Hello there');
    expect(plain.usage?.prompt_tokens).toBe(500);
    // the gateway asks for the usage chunk and removes it: code that reads choices[0] of
    // every chunk (as SDK examples do) keeps working
    let streamed = '';
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const chunk of stream) streamed += chunk.choices[0].delta.content ?? '';
    expect(streamed).toBe('Hello there');

    const anthropic = new Anthropic({ baseURL: `${baseURL}/gateway/anthropic`, apiKey: token, defaultHeaders: headers, maxRetries: 0 });
    const msg = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    expect(msg.content[0].type === 'text' && msg.content[0].text).toBe('Hello there');
    const final = await anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    expect(final.usage.output_tokens).toBe(50);

    // a wrong key is refused in the SDK's own error type, before the provider is asked
    const wrong = new OpenAI({ baseURL: `${baseURL}/gateway/openai/v1`, apiKey: 'cr_wrong', maxRetries: 0 });
    await expect(wrong.chat.completions.create({ model: 'gpt-4o-mini', messages: [] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

    expect(fake.seen.length).toBe(4);
    for (const s of fake.seen) {
      expect(s.credential).toContain(PROVIDER_KEY);
      expect(s.costroomHeaders).toEqual([]);
    }

    // the four calls are one trace, each with its price-book cost
    await expect(async () => {
      await page.goto(`/traces/${trace}`);
      await expect(page.locator('[data-testid="trace-steps"] tbody tr[data-step]')).toHaveCount(4, { timeout: 1000 });
    }).toPass({ timeout: 15_000 });
    const costs = await page.locator('tr[data-step]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-cost'))));
    // gpt-4o-mini: 500 in × $0.15/M + 40 out × $0.60/M = 99,000 nanos; claude-haiku-4-5:
    // 10 in × $1/M + 1,000 cache reads × $0.10/M + 50 out × $5/M = 360,000 nanos
    expect(costs.sort((a, b) => a - b)).toEqual([99_000, 99_000, 360_000, 360_000]);

    // a viewer reads the page: no form, no provider key
    const viewer = await browser.newPage();
    await signIn(viewer, 'viewer', '/settings/gateway');
    await expect(viewer.getByTestId('upstream-openai')).toBeVisible();
    await expect(viewer.getByTestId('upstream-submit')).toHaveCount(0);
    await expect(viewer.getByTestId('remove-openai')).toHaveCount(0);
    expect(await viewer.content()).not.toContain(PROVIDER_KEY);
    await viewer.close();
  } finally {
    fake.close();
  }
});
