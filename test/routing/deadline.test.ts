/**
 * Deadlines and routes at enqueue (issue 28 item 2): `deadline` as an RFC 3339 time or a duration,
 * stored as the time it names; `route` among `auto`, `live`, `batch`; a deadline no route can meet
 * refused naming `deadline`, at the boundaries (the live lead; the batch turnaround, assumed and
 * measured on the account). Real Redis, the real queue; live jobs against the simulator, which
 * refuses fields the Messages API does not take.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError, validateJob } from '../../src/core/job.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { chooseRoute } from '../../src/producer/routing.js';
import { saveTurnaround } from '../../src/store/batch-store.js';
import { get, post, type Stack, startStack, uniqueQueue } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';

const base = { model: 'claude-haiku-4-5', max_tokens: 10, prompt: 'hi' };
const routing = { batchTurnaroundSeconds: 86_400, turnaroundSafety: 1.5, liveLeadSeconds: 60 };

/** The problem a job body is refused with (`field: message`), or `ok`. */
async function refusal(q: PromptQueue, body: object): Promise<string> {
  try {
    await q.add(body);
    return 'ok';
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return err.message;
  }
}

describe('deadline and route: parsed and checked', () => {
  it('a duration becomes the time it names; an RFC 3339 time is kept; other forms are refused', () => {
    const before = Date.now();
    const { request } = validateJob({ ...base, deadline: '90s' });
    const at = Date.parse(request.deadline ?? '');
    expect(at).toBeGreaterThanOrEqual(before + 90_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 90_000);
    for (const [d, ms] of [
      ['15m', 900_000],
      ['6h', 21_600_000],
      ['1d', 86_400_000],
    ] as const) {
      const t = Date.parse(validateJob({ ...base, deadline: d }).request.deadline ?? '');
      expect(Math.abs(t - Date.now() - ms)).toBeLessThan(5000);
    }
    expect(validateJob({ ...base, deadline: '2030-01-02T03:04:05+01:00' }).request.deadline).toBe(
      '2030-01-02T02:04:05.000Z',
    );
    for (const bad of ['6 hours', 'tomorrow', '2030-01-02', '2030-01-02T03:04', '-5m', '1w', 90, '']) {
      expect(() => validateJob({ ...base, deadline: bad }), String(bad)).toThrow(/^deadline: /);
    }
    expect(() => validateJob({ ...base, deadline: '6 hours' })).toThrow(/RFC 3339 time .* "90s"/);
    expect(() => validateJob({ ...base, route: 'fast' })).toThrow(/^route: /);
    expect(validateJob({ ...base, route: 'batch' }).request.route).toBe('batch');
  });

  it('auto takes a batch exactly when the deadline leaves the turnaround and the live lead', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const turnaround = { ms: 3_600_000, measured: true };
    const at = (ms: number) => new Date(now + ms).toISOString();
    const edge = 3_600_000 + 60_000;
    expect(chooseRoute({ deadline: at(edge) }, now, turnaround, routing)).toEqual({ route: 'batch' });
    expect(chooseRoute({ deadline: at(edge - 1) }, now, turnaround, routing)).toEqual({ route: 'live' });
    expect(chooseRoute({ deadline: at(edge), route: 'live' }, now, turnaround, routing)).toEqual({
      route: 'live',
    });
    expect(chooseRoute({}, now, turnaround, routing)).toEqual({ route: 'live' });
    expect(chooseRoute({ route: 'batch' }, now, turnaround, routing)).toEqual({ route: 'batch' });
  });
});

describe('a deadline no route can meet is refused at enqueue', () => {
  const redis = testRedis();
  let q: PromptQueue;
  beforeAll(() => {
    q = new PromptQueue({ connection: redis, queue: uniqueQueue(), ...testSettings(), routing });
  });
  afterAll(async () => {
    await q.queue.obliterate({ force: true });
    await q.close();
    redis.disconnect();
  });

  it('a passed deadline, and one inside the live lead (60 s), from both sides', async () => {
    expect(await refusal(q, { ...base, deadline: '2020-01-01T00:00:00Z' })).toMatch(
      /^deadline: has already passed \(2020-01-01T00:00:00.000Z is .* ago\)$/,
    );
    expect(await refusal(q, { ...base, deadline: '59s' })).toMatch(
      /^deadline: cannot be met: .* less than the 60 s a live call is given/,
    );
    expect(await refusal(q, { ...base, deadline: '62s' })).toBe('ok');
  });

  it('route "batch" needs the turnaround: assumed 24 h, then as measured on the account', async () => {
    expect(await refusal(q, { ...base, route: 'batch', deadline: '23h' })).toMatch(
      /^deadline: cannot be met by route "batch": .* a Message Batch takes up to 24 h \(assumed until a batch has been measured/,
    );
    expect(await refusal(q, { ...base, route: 'batch', deadline: '1441m' })).toBe('ok');
    // The same deadlines in a list: all or nothing, each named by its index.
    await expect(
      q.addBatch([
        { ...base, route: 'batch', deadline: '1441m' },
        { ...base, route: 'batch', deadline: '23h' },
      ]),
    ).rejects.toThrow(/^jobs\.1\.deadline: cannot be met by route "batch"/);
    // This account's batches took up to 2 min: 3 min with the safety factor.
    await saveTurnaround(redis, q.keys, 60_000);
    await saveTurnaround(redis, q.keys, 120_000);
    expect(await refusal(q, { ...base, route: 'batch', deadline: '179s' })).toMatch(
      /takes up to 3 min \(measured on this account's last batches\)/,
    );
    expect(await refusal(q, { ...base, route: 'batch', deadline: '181s' })).toBe('ok');
  });

  it('the same id again is the same job: a duration that moved and a deadline since passed do not refuse it', async () => {
    const first = await q.add({ ...base, id: 'again-1', deadline: '62s' });
    expect(first.created).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    // "62s" now names a later time than it did: still the same work, so the same job.
    const second = await q.add({ ...base, id: 'again-1', deadline: '62s' });
    expect(second).toMatchObject({ id: 'again-1', created: false });
    const late = await q.add({ ...base, id: 'again-1', deadline: '2020-01-01T00:00:00Z' });
    expect(late).toMatchObject({ id: 'again-1', created: false });
    // Control: the same past deadline on a new id is refused.
    expect(await refusal(q, { ...base, id: 'again-2', deadline: '2020-01-01T00:00:00Z' })).toMatch(
      /^deadline: has already passed/,
    );
  });
});

describe('deadline and route stay out of the API request', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(async () => {
    await s.close();
  });

  it('a live job with a deadline and a route completes (the simulator refuses unknown fields)', async () => {
    // Control: the simulator does refuse a field the Messages API does not take.
    const control = await post(`${s.url}/v1/jobs`, { ...base, not_an_api_field: 1 });
    const failed = await get(`${s.url}/v1/jobs/${control.body.id as string}?wait=20`);
    expect(failed.body.state).toBe('failed');
    const r = await post(`${s.url}/v1/jobs`, { ...base, deadline: '1h', route: 'live' });
    expect(r.status).toBe(202);
    const done = await get(`${s.url}/v1/jobs/${r.body.id as string}?wait=20`);
    expect(done.body.state).toBe('completed');
    expect(done.body.request.deadline).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('over HTTP an unmeetable deadline is a 400 naming the field', async () => {
    const r = await post(`${s.url}/v1/jobs`, { ...base, deadline: '2020-01-01T00:00:00Z' });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('deadline');
    expect(JSON.stringify(r.body)).toContain('has already passed');
  });
});
