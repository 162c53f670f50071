import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { combinedPriority } from '../../src/core/fairness.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { bullJobId, scopedJobId } from '../../src/store/keys.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';

/** Single, batch and bulk submission share one path and one idempotency rule. */
describe('the one enqueue path', () => {
  const redis = testRedis();
  const queues: PromptQueue[] = [];
  afterEach(async () => {
    for (const q of queues.splice(0)) {
      await q.queue.obliterate({ force: true });
      await redis.del(q.keys.tenantPending);
      await q.close();
    }
  });
  afterAll(() => redis.disconnect());

  const open = () => {
    const q = new PromptQueue({ connection: redis, queue: uniqueQueue(), ...testSettings() });
    queues.push(q);
    return q;
  };
  const body = { model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'hi', tenant_id: 'acme' };
  const request = {
    model: 'claude-haiku-4-5',
    max_tokens: 5,
    messages: [{ role: 'user' as const, content: 'hi' }],
    tenant_id: 'acme',
    // What validateJob makes of `body`: the same request, so the same job (a different one is a 409).
    metadata: { user_id: 'acme' },
  };
  /** acme's stored id (ids are per tenant): what addValidated is given, as a backfill gives it. */
  const sid = (id: string) => scopedJobId(id, 'acme');
  const pending = async (q: PromptQueue) => Number((await redis.hget(q.keys.tenantPending, 'acme')) ?? 0);

  it('an id that exists is neither added again nor counted again, whichever way it comes', async () => {
    const q = open();
    expect(await q.add({ ...body, id: 'x' })).toMatchObject({ id: 'x', created: true });
    expect(await q.add({ ...body, id: 'x' })).toMatchObject({ id: 'x', created: false });
    expect(
      await q.addBatch([
        { ...body, id: 'x' },
        { ...body, id: 'y' },
      ]),
    ).toEqual({ ids: ['x', 'y'] });
    expect(
      await q.addValidated([
        { request, id: sid('x') },
        { request, id: sid('y') },
        { request, id: sid('z') },
      ]),
    ).toEqual({
      added: 1,
    });
    expect(await q.queue.count()).toBe(3);
    // The fairness counter counts each job once (addBatch used to count existing ids again).
    expect(await pending(q)).toBe(3);
  });

  it('a re-run bulk adds nothing; ranks continue where the tenant is', async () => {
    const q = open();
    const jobs = Array.from({ length: 5 }, (_, i) => ({ request, id: sid(`bf-${i}`) }));
    expect(await q.addValidated(jobs)).toEqual({ added: 5 });
    expect(await q.addValidated(jobs)).toEqual({ added: 0 });
    expect(await pending(q)).toBe(5);
    const { ids } = await q.addBatch([body, body]);
    const priorities = await Promise.all(
      ids.map(async (id) => (await q.queue.getJob(bullJobId(id)))?.opts.priority),
    );
    expect(priorities).toEqual([
      combinedPriority(defaults.jobs.defaultPriority, 5),
      combinedPriority(defaults.jobs.defaultPriority, 6),
    ]);
  });

  it('concurrent submissions of one id through all three entrances make one job', async () => {
    const q = open();
    const rs = await Promise.all([
      ...Array.from({ length: 4 }, () => q.add({ ...body, id: 'race' })),
      q.addBatch([{ ...body, id: 'race' }]),
      q.addValidated([{ request, id: sid('race') }]),
    ]);
    // One winner of the claim answers "created" (a 202); the others see the job (a 200).
    expect(rs.filter((r) => 'created' in r && r.created).length).toBeLessThanOrEqual(1);
    expect(await q.queue.count()).toBe(1);
  });

  it('a bulk run resumed after a kill counts the jobs the killed run had claimed but not added', async () => {
    const q = open();
    // The killed run claimed (and ranked) "k1" but died before its addBulk: the claim is still held.
    await redis.set(q.keys.claim(sid('k1')), '1', 'PX', 30_000);
    expect(
      await q.addValidated([
        { request, id: sid('k1') },
        { request, id: sid('k2') },
      ]),
    ).toEqual({ added: 2 });
    expect(await q.queue.count()).toBe(2);
    // A single add of an id whose claim someone else holds is not the one that created it.
    await redis.set(q.keys.claim(sid('k3')), '1', 'PX', 30_000);
    expect(await q.add({ ...body, id: 'k3' })).toMatchObject({ id: 'k3', created: false, state: 'waiting' });
    expect(await q.queue.count()).toBe(3);
  });

  it('batch validation stays all-or-nothing: one bad job, nothing claimed or counted', async () => {
    const q = open();
    await expect(q.addBatch([body, { ...body, max_tokens: 0 }])).rejects.toThrow(/^jobs\.1\.max_tokens: /);
    expect(await q.queue.count()).toBe(0);
    expect(await redis.exists(q.keys.tenantPending)).toBe(0);
  });
});
