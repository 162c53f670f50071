import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

const apiToken = 'api-token-0123456789abcdef';
const metricsToken = 'metrics-token-0123456789abcdef';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const job = { model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'hi' };

async function put(url: string, headers: Record<string, string>) {
  const res = await fetch(url, { method: 'PUT', headers });
  await res.arrayBuffer();
  return res.status;
}

describe('access: tokens', () => {
  let s: Stack;
  afterEach(() => s?.close());

  it('the API token opens everything; the metrics token opens /metrics only; strangers get 401', async () => {
    s = await startStack({
      env: { PROMPTQ_AUTH_TOKEN: apiToken, PROMPTQ_METRICS_TOKEN: metricsToken },
      parts: { worker: false },
    });
    // A wrong token of the right length: compared in constant time, refused.
    const wrong = 'x'.repeat(apiToken.length);
    for (const headers of [{}, bearer(wrong), bearer(metricsToken), { authorization: 'Basic Og==' }]) {
      expect((await post(`${s.url}/v1/jobs`, job, headers)).status).toBe(401);
      expect((await get(`${s.url}/v1/jobs/nope`, headers)).status).toBe(401);
      expect((await get(`${s.url}/admin/queues`, headers)).status).toBe(401);
      expect((await get(`${s.url}/admin/queues/api/queues`, headers)).status).toBe(401);
    }
    for (const headers of [{}, bearer(wrong)])
      expect((await get(`${s.url}/metrics`, headers)).status).toBe(401);
    expect((await get(`${s.url}/metrics`, bearer(metricsToken))).status).toBe(200);
    expect((await get(`${s.url}/metrics`, bearer(apiToken))).status).toBe(200);
    expect((await post(`${s.url}/v1/jobs`, job, bearer(apiToken))).status).toBe(202);
    expect((await get(`${s.url}/admin/queues`, bearer(apiToken))).status).toBe(200);
    // Browsers reach Bull Board with Basic auth, the token as the password.
    const basic = { authorization: `Basic ${Buffer.from(`any:${apiToken}`).toString('base64')}` };
    expect((await get(`${s.url}/admin/queues`, basic)).status).toBe(200);
    // Health stays open for orchestrators.
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
    expect((await get(`${s.url}/readyz`)).status).toBe(200);
  });

  it('the metrics token alone protects /metrics while the API is loopback-only', async () => {
    s = await startStack({ env: { PROMPTQ_METRICS_TOKEN: metricsToken }, parts: { worker: false } });
    expect((await get(`${s.url}/metrics`)).status).toBe(401);
    expect((await get(`${s.url}/metrics`, bearer(metricsToken))).status).toBe(200);
    expect((await post(`${s.url}/v1/jobs`, job)).status).toBe(202);
  });

  it('Bull Board read-only refuses actions (405) and leaves the queue as it was', async () => {
    s = await startStack({ env: { PROMPTQ_BOARD_READ_ONLY: 'true' }, parts: { worker: false } });
    const q = s.config.queue;
    const queues = await get(`${s.url}/admin/queues/api/queues`);
    expect(queues.body.queues[0].readOnlyMode).toBe(true);
    for (const action of ['pause', 'empty', 'retry/failed', 'clean/completed', 'promote']) {
      expect(await put(`${s.url}/admin/queues/api/queues/${q}/${action}`, {})).toBe(405);
    }
    expect(await s.bull.isPaused()).toBe(false);
  });

  it('without read-only, the same board action works (so the test above can fail)', async () => {
    s = await startStack({ parts: { worker: false } });
    expect(await put(`${s.url}/admin/queues/api/queues/${s.config.queue}/pause`, {})).toBe(200);
    expect(await s.bull.isPaused()).toBe(true);
  });
});

describe('access: listen address', () => {
  it('refuses a non-loopback HOST without a token: exit 2 with a clear one-line reason', async () => {
    const p = spawnCli(['api'], { HOST: '0.0.0.0', PORT: '0', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await p.exited).toBe(2);
    const lines = p.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/HOST: "0.0.0.0" is not a loopback address; set PROMPTQ_AUTH_TOKEN/);
  });
});
