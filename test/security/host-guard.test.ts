/**
 * Browser and host (ops/http/csrf.ts): with no token set only loopback `Host` names are served and
 * a foreign `Origin` is refused (DNS rebinding: a page on `evil.example`, resolved to 127.0.0.1,
 * must not create a tenant nor read /metrics); every state-changing route, Bull Board's included,
 * refuses a cross-site request and a non-JSON `POST` (a cross-site form with Basic credentials and a
 * `text/plain` body adds no job). Each refusal has its control: the same request from the right
 * place is served.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

const token = 'host-guard-token-0123456789';
const basic = `Basic ${Buffer.from(`promptq:${token}`).toString('base64')}`;

/** A raw HTTP request (fetch would not let the Host header be chosen). */
function send(
  url: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('browser and host', () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('no token: a foreign Host or Origin creates no tenant and reads no /metrics; loopback names are served', async () => {
    s = await startStack({ parts: { worker: false } });
    const port = new URL(s.url).port;
    const tenant = (headers: Record<string, string>, name: string) =>
      send(s!.url, '/v1/tenants', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name }),
      });
    const rebound = { host: `evil.example:${port}` };
    const created = await tenant(rebound, 'rebound');
    expect(created.status).toBe(403);
    expect(JSON.parse(created.body).error.message).toMatch(/PROMPTQ_AUTH_TOKEN.*DNS rebinding/);
    expect((await send(s.url, '/metrics', { headers: rebound })).status).toBe(403);
    expect((await send(s.url, '/healthz', { headers: rebound })).status).toBe(403);
    // A loopback Host with a foreign Origin: refused too, reads included.
    const origin = { host: `127.0.0.1:${port}`, origin: 'http://evil.example' };
    expect((await send(s.url, '/metrics', { headers: origin })).status).toBe(403);
    expect((await tenant(origin, 'from-origin')).status).toBe(403);
    expect(await s.redis.exists(`bull:${s.config.queue}:promptq:tenant:rebound`)).toBe(0);

    // Controls: loopback names are served.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost']) {
      expect((await send(s.url, '/metrics', { headers: { host } })).status).toBe(200);
    }
    expect((await send(s.url, '/metrics', { headers: { host: `[::1]:${port}` } })).status).toBe(200);
    expect(
      (await tenant({ host: `localhost:${port}`, origin: `http://localhost:${port}` }, 'local')).status,
    ).toBe(201);
  });

  it('with a token the token is the guard: any Host is served with it', async () => {
    s = await startStack({ parts: { worker: false }, env: { PROMPTQ_AUTH_TOKEN: token } });
    const headers = { host: 'promptq.internal.example', authorization: `Bearer ${token}` };
    expect((await send(s.url, '/metrics', { headers })).status).toBe(200);
    expect((await send(s.url, '/metrics', { headers: { host: 'promptq.internal.example' } })).status).toBe(
      401,
    );
  });

  it('Bull Board: a cross-site text/plain POST with Basic credentials adds no job; its own page’s JSON POST does', async () => {
    s = await startStack({ parts: { worker: false }, env: { PROMPTQ_AUTH_TOKEN: token } });
    const port = new URL(s.url).port;
    const add = `/admin/queues/api/queues/${s.config.queue}/add`;
    const job = JSON.stringify({
      name: 'forged',
      data: { model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'x' },
    });
    const forged = await send(s.url, add, {
      method: 'POST',
      headers: {
        host: `127.0.0.1:${port}`,
        authorization: basic,
        'content-type': 'text/plain',
        origin: 'http://evil.example',
        'sec-fetch-site': 'cross-site',
      },
      body: job,
    });
    expect(forged.status).toBe(403);
    // Without the browser's headers (an old browser): a text/plain POST is still refused.
    const plain = await send(s.url, add, {
      method: 'POST',
      headers: { host: `127.0.0.1:${port}`, authorization: basic, 'content-type': 'text/plain' },
      body: job,
    });
    expect(plain.status).toBe(415);
    expect(await s.bull.count()).toBe(0);

    // Control: Bull Board's own page posts JSON, same-origin: the job is added.
    const own = await send(s.url, add, {
      method: 'POST',
      headers: {
        host: `127.0.0.1:${port}`,
        authorization: basic,
        'content-type': 'application/json',
        origin: `http://127.0.0.1:${port}`,
        'sec-fetch-site': 'same-origin',
      },
      body: job,
    });
    expect(own.status).toBe(200);
    expect(await s.bull.count()).toBe(1);
  });
});
