import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTests, launchChromium } from '../helpers/chromium.js';
import { post, type Stack, startStack } from '../helpers/stack.js';

const token = 'csrf-test-token-0123456789';

/** The JSON a `text/plain` form sends: `name=value`, the `=` hidden inside a string. */
const formName = '{"model":"claude-haiku-4-5","max_tokens":8,"prompt":"forged","tenant_id":"a';
const formValue = 'b"}';
const forgedBody = `${formName}=${formValue}`;

/** An attacker's page on another site (`localhost` against the service's `127.0.0.1`). */
async function attackerSite(target: string): Promise<{ url: string; server: Server }> {
  const attr = (s: string) => s.replaceAll('&', '&amp;').replaceAll("'", '&#39;');
  const html = `<!doctype html><form method="POST" action="${target}/v1/jobs" enctype="text/plain">
<input type="hidden" name='${attr(formName)}' value='${attr(formValue)}'></form>
<script>document.forms[0].submit()</script>`;
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://localhost:${(server.address() as AddressInfo).port}/`, server };
}

describe.runIf(browserTests)('CSRF from a browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(() => browser?.close());

  /** Open the attacker's page; return the service's answer to the forged POST. */
  async function forge(s: Stack, login: boolean) {
    const ctx = await browser.newContext(
      login ? { httpCredentials: { username: 'promptq', password: token } } : {},
    );
    const site = await attackerSite(s.url);
    try {
      const page = await ctx.newPage();
      if (login) expect((await page.goto(`${s.url}/dashboard`))?.status()).toBe(200);
      const answer = page.waitForResponse((r) => r.url().endsWith('/v1/jobs'));
      await page.goto(site.url);
      const r = await answer;
      return { status: r.status(), body: (await r.json()) as { error?: { type: string } } };
    } finally {
      await ctx.close();
      site.server.close();
    }
  }

  it('without a token: the forged form is refused as cross-site, the same body from a program runs', async () => {
    const s = await startStack({ parts: { worker: false } });
    try {
      const r = await forge(s, false);
      expect(r.status).toBe(403);
      expect(r.body.error?.type).toBe('forbidden');
      expect(await s.bull.count()).toBe(0);
      // Control: the forged body is a valid job.
      const direct = await post(`${s.url}/v1/jobs`, forgedBody);
      expect(direct.status).toBe(202);
      expect(await s.bull.count()).toBe(1);
    } finally {
      await s.close();
    }
  }, 60_000);

  it('logged into /dashboard with Basic auth: the forged form enqueues nothing', async () => {
    const s = await startStack({ parts: { worker: false }, env: { PROMPTQ_AUTH_TOKEN: token } });
    try {
      const r = await forge(s, true);
      expect([401, 403]).toContain(r.status);
      expect(await s.bull.count()).toBe(0);
      const direct = await post(`${s.url}/v1/jobs`, forgedBody, { authorization: `Bearer ${token}` });
      expect(direct.status).toBe(202);
    } finally {
      await s.close();
    }
  }, 60_000);
});

describe('the API takes JSON from programs only', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ parts: { worker: false }, env: { PROMPTQ_AUTH_TOKEN: token } });
  });
  afterAll(() => s?.close());
  const bearer = { authorization: `Bearer ${token}` };
  const basic = { authorization: `Basic ${Buffer.from(`promptq:${token}`).toString('base64')}` };
  const job = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 8, prompt: 'hi' });
  const send = async (headers: Record<string, string>, path = '/v1/jobs') => {
    const res = await fetch(`${s.url}${path}`, { method: 'POST', headers, body: job });
    return { status: res.status, body: (await res.json()) as { error?: { type: string; message: string } } };
  };

  it('a non-JSON content type is a 415 naming it', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const r = await send({ ...bearer, 'content-type': type });
      expect(r.status, type).toBe(415);
      expect(r.body.error?.message).toMatch(/^content-type: must be application\/json/);
    }
    const none = await fetch(`${s.url}/v1/jobs/batch`, { method: 'POST', headers: bearer, body: job });
    expect(none.status).toBe(415);
    expect((await send({ ...bearer, 'content-type': 'application/json; charset=utf-8' })).status).toBe(202);
  });

  it('a cross-site Origin or Sec-Fetch-Site is a 403; same-origin passes', async () => {
    const json = { ...bearer, 'content-type': 'application/json' };
    for (const h of <Array<Record<string, string>>>[
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ]) {
      const r = await send({ ...json, ...h });
      expect(r.status, JSON.stringify(h)).toBe(403);
      expect(r.body.error?.type).toBe('forbidden');
    }
    expect((await send({ ...json, origin: s.url, 'sec-fetch-site': 'same-origin' })).status).toBe(202);
  });

  it('Basic auth opens the pages, not the API', async () => {
    expect((await send({ ...basic, 'content-type': 'application/json' })).status).toBe(401);
    expect((await fetch(`${s.url}/v1/jobs/x`, { headers: basic })).status).toBe(401);
    expect((await fetch(`${s.url}/dashboard`, { headers: basic })).status).toBe(200);
    expect((await fetch(`${s.url}/admin/queues`, { headers: basic })).status).toBe(200);
  });
});
