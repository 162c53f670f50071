/**
 * Event streams with a real `EventSource` client (the `eventsource` package): a job's stream shows
 * the model's first text delta while the job still runs, then its final state, and ends; the
 * tenant-wide stream, its connection dropped while jobs change state, reconnects with
 * `Last-Event-ID` and misses no state change (every change Redis recorded for the jobs, including
 * those made while it was away, reaches the client).
 */
import { EventSource, type FetchLike } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from '../helpers/stack.js';
import { until } from './webhook-helpers.js';

interface Seen {
  type: string;
  id: string;
  data: Record<string, any>;
  at: number;
}

function listen(es: EventSource, types: string[], seen: Seen[]): void {
  for (const type of types) {
    es.addEventListener(type, (e) => {
      seen.push({ type, id: e.lastEventId, data: JSON.parse(e.data), at: Date.now() });
    });
  }
}

const stateTypes = ['queued', 'started', 'retrying', 'completed', 'failed'];

describe('SSE: job and tenant event streams', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Slow tokens: an answer streams for about two seconds.
    stack = await startStack({ sim: { msPerToken: 40, tokensPerDelta: 2 } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("a job's stream shows the first text delta before the job completes, then ends", async () => {
    const body = { id: 'sse-1', model: 'claude-haiku-4-5', max_tokens: 80, prompt: 'Tell me a long story' };
    expect((await post(`${stack.url}/v1/jobs`, body)).status).toBe(202);
    const es = new EventSource(`${stack.url}/v1/jobs/sse-1/events`);
    const seen: Seen[] = [];
    let stateAtFirstDelta: Promise<string> | undefined;
    es.addEventListener('content_block_delta', (e) => {
      const data = JSON.parse(e.data);
      seen.push({ type: 'content_block_delta', id: e.lastEventId, data, at: Date.now() });
      stateAtFirstDelta ??= get(`${stack.url}/v1/jobs/sse-1`).then((r) => String(r.body.state));
    });
    listen(es, [...stateTypes, 'message_start', 'message_stop'], seen);
    await until(() => seen.find((s) => s.type === 'completed'), 30_000);
    const firstDelta = seen.findIndex((s) => s.type === 'content_block_delta');
    const completed = seen.findIndex((s) => s.type === 'completed');
    expect(firstDelta).toBeGreaterThanOrEqual(0);
    expect(firstDelta).toBeLessThan(completed);
    expect(seen[firstDelta]!.data.delta.type).toBe('text_delta');
    // When the first delta arrived, the job was still running.
    expect(await stateAtFirstDelta).toBe('active');
    expect(seen.filter((s) => stateTypes.includes(s.type)).map((s) => s.type)).toEqual([
      'queued',
      'started',
      'completed',
    ]);
    // The stream ended; the reconnect (with Last-Event-ID) answers 204 and the client stops.
    await until(() => es.readyState === EventSource.CLOSED || undefined, 15_000);
    es.close();
  });

  it('a dropped /v1/events connection resumes with Last-Event-ID and misses no state change', async () => {
    let current: AbortController | undefined;
    const lastIds: Array<string | null> = [];
    // Each connection's body can be cut (as a network drop would) while the client keeps running.
    const dropping: FetchLike = async (url, init) => {
      const ac = new AbortController();
      current = ac;
      lastIds.push(new Headers(init.headers).get('last-event-id'));
      const res = await fetch(url, init);
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      res.body?.pipeTo(writable, { signal: ac.signal }).catch(() => {});
      return new Response(readable, { status: res.status, headers: res.headers });
    };
    const es = new EventSource(`${stack.url}/v1/events`, { fetch: dropping });
    const seen: Seen[] = [];
    listen(es, stateTypes, seen);
    await until(() => (es.readyState === EventSource.OPEN ? true : undefined));
    const ids = ['r-1', 'r-2', 'r-3', 'r-4'];
    const jobs = ids.map((id) => ({ id, model: 'claude-haiku-4-5', max_tokens: 40, prompt: `story ${id}` }));
    expect((await post(`${stack.url}/v1/jobs/batch`, { jobs })).status).toBe(202);
    await until(() => seen.find((s) => s.type === 'queued'));
    // Drop the connection mid-stream; the client reconnects by itself.
    const droppedAt = Date.now();
    current!.abort(new Error('connection dropped'));
    await until(() => (lastIds.length >= 2 ? true : undefined), 15_000);
    const reconnectedAt = Date.now();
    await until(
      () => ids.every((id) => seen.some((s) => s.type === 'completed' && s.data.job_id === id)) || undefined,
      30_000,
    );
    es.close();
    // The reconnect named the last event the client had.
    expect(lastIds[1]).toMatch(/^\d+-\d+$/);
    // Every state change Redis recorded for these jobs reached the client, each once.
    const recorded = (await stack.redis.xrange(stack.svc.queue.keys.eventStream(null), '-', '+')) as Array<
      [string, string[]]
    >;
    const ours = recorded.filter(([, f]) => ids.includes(JSON.parse(f[3]!).job_id));
    const received = seen.filter((s) => ids.includes(s.data.job_id));
    expect(received.map((s) => s.id)).toEqual(ours.map(([id]) => id));
    // The control: some of them happened while the client was away.
    const whileAway = ours.filter(([, f]) => {
      const at = Date.parse(JSON.parse(f[3]!).at);
      return at > droppedAt && at < reconnectedAt;
    });
    expect(whileAway.length).toBeGreaterThan(0);
  });
});

describe('SSE: scoped by tenant, capped like long polls', () => {
  let stack: Stack;
  const admin = 'admin-token-0123456789abcdef';
  beforeAll(async () => {
    stack = await startStack({ env: { PROMPTQ_AUTH_TOKEN: admin, PROMPTQ_MAX_WAITERS: '2' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("a tenant sees only its own jobs' events; the admin sees every tenant's", async () => {
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const tok = async (name: string) =>
      String((await post(`${stack.url}/v1/tenants`, { name }, auth(admin))).body.token);
    const [a, b] = [await tok('ta'), await tok('tb')];
    const open = (token: string, seen: Seen[]) => {
      const es = new EventSource(`${stack.url}/v1/events`, {
        fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, ...auth(token) } }),
      });
      listen(es, stateTypes, seen);
      return es;
    };
    const [seenA, seenAdmin]: [Seen[], Seen[]] = [[], []];
    const esA = open(a, seenA);
    const esAdmin = open(admin, seenAdmin);
    await until(() => (esA.readyState === 1 && esAdmin.readyState === 1) || undefined);
    const job = (id: string) => ({ id, model: 'claude-haiku-4-5', max_tokens: 8, prompt: 'hi' });
    expect((await post(`${stack.url}/v1/jobs`, job('of-a'), auth(a))).status).toBe(202);
    expect((await post(`${stack.url}/v1/jobs`, job('of-b'), auth(b))).status).toBe(202);
    await until(
      () =>
        ['of-a', 'of-b'].every((id) =>
          seenAdmin.some((s) => s.type === 'completed' && s.data.job_id === id),
        ) || undefined,
    );
    await until(() => seenA.find((s) => s.type === 'completed'));
    expect(new Set(seenA.map((s) => s.data.job_id))).toEqual(new Set(['of-a']));
    // Another tenant's job stream is no job at all.
    expect((await get(`${stack.url}/v1/jobs/of-b/events`, auth(a))).status).toBe(404);
    // The cap: two streams are open (PROMPTQ_MAX_WAITERS=2), the third is refused.
    const third = await fetch(`${stack.url}/v1/events`, { headers: auth(admin) });
    expect(third.status).toBe(429);
    await third.body?.cancel();
    esA.close();
    esAdmin.close();
    // Freed when a client leaves (the server sees the disconnect at its next read).
    await until(async () => {
      const r = await fetch(`${stack.url}/v1/events`, { headers: auth(admin) });
      await r.body?.cancel();
      return r.status === 200 ? true : undefined;
    }, 15_000);
  });
});

describe('SSE: ids per tenant, and a cap per tenant', () => {
  let stack: Stack;
  const admin = 'admin-token-0123456789abcdef';
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });
  beforeAll(async () => {
    stack = await startStack({
      sim: { msPerToken: 40, tokensPerDelta: 2 },
      env: { PROMPTQ_AUTH_TOKEN: admin, PROMPTQ_MAX_WAITERS: '3', PROMPTQ_MAX_WAITERS_PER_TENANT: '1' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("two tenants' jobs of one id: each tenant's job stream is its own job's", async () => {
    const tok = async (name: string) =>
      String((await post(`${stack.url}/v1/tenants`, { name }, auth(admin))).body.token);
    const [a, b] = [await tok('sa'), await tok('sb')];
    const job = (prompt: string) => ({ id: 'same', model: 'claude-haiku-4-5', max_tokens: 40, prompt });
    expect((await post(`${stack.url}/v1/jobs`, job('story for a'), auth(a))).status).toBe(202);
    expect((await post(`${stack.url}/v1/jobs`, job('story for b'), auth(b))).status).toBe(202);
    const watch = (token: string, query = '') => {
      const seen: Seen[] = [];
      const es = new EventSource(`${stack.url}/v1/jobs/same/events${query}`, {
        fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, ...auth(token) } }),
      });
      listen(es, stateTypes, seen);
      return { es, seen };
    };
    const [wa, wb] = [watch(a), watch(b)];
    await until(
      () =>
        (wa.seen.some((s) => s.type === 'completed') && wb.seen.some((s) => s.type === 'completed')) ||
        undefined,
      30_000,
    );
    wa.es.close();
    wb.es.close();
    // Each stream carries only its own tenant's job (same id, other tenant: never seen).
    expect(new Set(wa.seen.map((s) => s.data.tenant))).toEqual(new Set(['sa']));
    expect(new Set(wb.seen.map((s) => s.data.tenant))).toEqual(new Set(['sb']));
    expect(wa.seen.filter((s) => s.type === 'queued')).toHaveLength(1);
    expect(wb.seen.filter((s) => s.type === 'queued')).toHaveLength(1);
  });

  it('a tenant holds at most PROMPTQ_MAX_WAITERS_PER_TENANT streams; another tenant still gets one', async () => {
    const tok = async (name: string) =>
      String((await post(`${stack.url}/v1/tenants`, { name }, auth(admin))).body.token);
    const [c, d] = [await tok('sc'), await tok('sd')];
    const first = await fetch(`${stack.url}/v1/events`, { headers: auth(c) });
    expect(first.status).toBe(200); // at the cap: accepted
    const second = await fetch(`${stack.url}/v1/events`, { headers: auth(c) });
    expect(second.status).toBe(429); // one past it: refused
    expect(await second.json()).toMatchObject({ error: { details: { max_streams_per_tenant: 1 } } });
    // The control: the process has slots left, and another tenant gets one.
    const other = await fetch(`${stack.url}/v1/events`, { headers: auth(d) });
    expect(other.status).toBe(200);
    await Promise.all([first.body?.cancel(), other.body?.cancel()]);
  });
});
