/**
 * Caps one tenant cannot exhaust for the others: long polls (`?wait`) are capped per tenant as well
 * as per process (PROMPTQ_MAX_WAITERS_PER_TENANT). The control: with the tenant's cap as large as
 * the process's, one tenant's polls do take every wait and another tenant's is refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

const admin = 'admin-token-0123456789abcdef';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const job = { model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'hi' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

describe('long polls are capped per tenant', () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  /** A stack without a worker (jobs wait for ever), two tenants, a job each: their wait URLs. */
  async function setUp(env: Record<string, string>) {
    s = await startStack({ env: { PROMPTQ_AUTH_TOKEN: admin, ...env }, parts: { worker: false } });
    const urls: Record<string, { url: string; token: string }> = {};
    for (const name of ['acme', 'globex']) {
      const token = (await post(`${s.url}/v1/tenants`, { name }, bearer(admin))).body.token as string;
      const id = (await post(`${s.url}/v1/jobs`, job, bearer(token))).body.id as string;
      urls[name] = { url: `${s.url}/v1/jobs/${id}?wait=60`, token };
    }
    return urls as Record<'acme' | 'globex', { url: string; token: string }>;
  }

  it('PROMPTQ_MAX_WAITERS_PER_TENANT=2: a tenant’s 2 waits accepted, its 3rd a 429; another tenant still waits', async () => {
    const t = await setUp({ PROMPTQ_MAX_WAITERS: '5', PROMPTQ_MAX_WAITERS_PER_TENANT: '2' });
    const queue = s!.svc.queue;
    const held = [get(t.acme.url, bearer(t.acme.token)), get(t.acme.url, bearer(t.acme.token))];
    await until(() => queue.waiting === 2, "acme's 2 waiters");
    const refused = await get(t.acme.url, bearer(t.acme.token));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.error.message).toMatch(/PROMPTQ_MAX_WAITERS_PER_TENANT/);
    expect(refused.body.error.details).toEqual({ max_waiters_per_tenant: 2 });
    // globex is not refused: its wait is held (it answers only at shutdown).
    held.push(get(t.globex.url, bearer(t.globex.token)));
    await until(() => queue.waiting === 3, "globex's waiter");
    await s!.close();
    s = undefined;
    for (const a of await Promise.all(held)) expect(a.status).toBe(200);
  });

  it('control: with the tenant cap as large as the process cap, one tenant’s waits make another’s a 429', async () => {
    const t = await setUp({ PROMPTQ_MAX_WAITERS: '3', PROMPTQ_MAX_WAITERS_PER_TENANT: '3' });
    const queue = s!.svc.queue;
    const held = Array.from({ length: 3 }, () => get(t.acme.url, bearer(t.acme.token)));
    await until(() => queue.waiting === 3, "acme's 3 waiters");
    const refused = await get(t.globex.url, bearer(t.globex.token));
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toMatch(/PROMPTQ_MAX_WAITERS\)/);
    await s!.close();
    s = undefined;
    await Promise.all(held);
  });
});
