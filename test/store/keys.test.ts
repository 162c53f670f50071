import { QueueKeys as BullQueueKeys } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { newRecord } from '../../src/core/record.js';
import { RollupWriter } from '../../src/ops/metrics/rollups.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { Keyspace } from '../../src/store/keys.js';
import { saveFinalRecord, saveRecord } from '../../src/store/record-store.js';
import { uniqueQueue } from '../helpers/stack.js';
import { keySlot } from './slot.js';

describe('the key builder', () => {
  it('computes slots as Redis Cluster does (the examples of the CLUSTER KEYSLOT docs)', () => {
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('foo{hash_tag}')).toBe(2515);
  });

  it('by default: BullMQ prefix `bull`, keys of earlier releases', () => {
    const k = new Keyspace({ queue: 'prompts' });
    expect(k.prefix).toBe('bull');
    expect(k.job('abc')).toBe('bull:prompts:abc');
    expect(k.jobLock('abc')).toBe('bull:prompts:abc:lock');
    expect(k.bullmq('wait')).toBe(new BullQueueKeys('bull').toKey('prompts', 'wait'));
    expect(k.tenantPending).toBe('bull:prompts:promptq:tenant-pending');
    expect(k.claim('abc')).toBe('bull:prompts:promptq:claim:abc');
    expect(k.rollupMinute(29_000_000)).toBe('bull:prompts:promptq:rollup:29000000');
    expect(k.rollupDay('2026-11-27')).toBe('bull:prompts:promptq:rollup:day:2026-11-27');
    expect(k.slowest(483_000)).toBe('bull:prompts:promptq:slowest:483000');
    expect(new Keyspace({ queue: 'q', prefix: 'app' }).job('1')).toBe('app:q:1');
    expect(k.limiterGroup('a1b2c3', 'sonnet')).toBe('promptq:limiter:a1b2c3:sonnet');
    expect(k.limiterCachePrefix('a1b2c3', 'sonnet', 'm:d')).toBe('promptq:limiter:a1b2c3:sonnet:cache:m:d');
  });

  it('hash-tagged: every key of a queue, BullMQ’s and promptq’s, in one slot; queues spread', () => {
    const k = new Keyspace({ queue: 'prompts', hashTag: true });
    expect(k.prefix).toBe('bull:{prompts}');
    expect(k.job('abc')).toBe('bull:{prompts}:prompts:abc');
    const bull = Object.values(new BullQueueKeys(k.prefix).getKeys('prompts')).filter((x) => x !== '');
    const ours = [
      k.job('abc'),
      k.jobLock('abc'),
      k.claim('abc'),
      k.tenantPending,
      k.rollupMinute(1),
      k.rollupDay('2026-11-27'),
      k.slowest(1),
    ];
    const slots = new Set([...bull, ...ours].map(keySlot));
    expect(slots).toEqual(new Set([keySlot('{prompts}')]));
    const queues = Array.from({ length: 20 }, (_, i) => new Keyspace({ queue: `q${i}`, hashTag: true }));
    expect(new Set(queues.map((q) => keySlot(q.tenantPending))).size).toBeGreaterThan(10);
    expect(() => new Keyspace({ queue: 'q', prefix: 'bull:{x}', hashTag: true })).toThrow(/^prefix: /);
    // The tagged prefix given as a plain prefix makes the same keys (what a BullMQ prefix option takes).
    expect(new Keyspace({ queue: 'prompts', prefix: k.prefix }).tenantPending).toBe(k.tenantPending);
  });

  it('hash-tagged limiter keys: one slot per account and model group', () => {
    const k = new Keyspace({ queue: 'prompts', hashTag: true });
    const key = k.limiterGroup('a1b2c3', 'sonnet');
    expect(key).toBe('promptq:limiter:{a1b2c3:sonnet}');
    expect(keySlot(key)).toBe(keySlot(k.limiterShare('a1b2c3', 'sonnet', 'bull:{prompts}:prompts/acme')));
    const cached = k.limiterCachePrefix('a1b2c3', 'sonnet', 'claude-sonnet-4-6:AbC');
    expect(cached).toBe('promptq:limiter:{a1b2c3:sonnet}:cache:claude-sonnet-4-6:AbC');
    expect(keySlot(cached)).toBe(keySlot(key));
    expect(keySlot(key)).not.toBe(keySlot(k.limiterGroup('a1b2c3', 'haiku')));
    // The limiter's keys are the account's, not the queue's: every queue names the same ones.
    expect(new Keyspace({ queue: 'other', hashTag: true }).limiterGroup('a1b2c3', 'sonnet')).toBe(key);
  });

  describe('against Redis', () => {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    afterAll(() => redis.disconnect());

    it('a hash-tagged queue in use writes only keys of its slot (jobs, claims, ranks, records, rollups)', async () => {
      const name = uniqueQueue();
      const q = new PromptQueue({ connection: redis, queue: name, redis: { mode: 'cluster' } });
      try {
        const body = { model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'hi', tenant_id: 'acme' };
        const { id } = await q.add({ ...body, id: 'one' });
        await q.add({ ...body, id: 'one' });
        await q.addBatch([body, { ...body, tenant_id: 'other' }]);
        await q.addValidated([{ request: { ...body, messages: [] }, id: 'bulk-1' }]);
        const record = newRecord({ ...body, messages: [] }, Date.now());
        await saveRecord(redis, q.keys.job(id), record);
        await saveFinalRecord(redis, q.keys.job(id), q.keys.tenantPending, record, undefined, id);
        const rollups = new RollupWriter({
          connection: redis,
          keys: q.keys,
          retention: defaults.rollups,
          tenantLabel: (t) => t ?? '',
          modelLabel: (m) => m,
        });
        await rollups.record(id, 'completed', {
          ...record,
          finished_at: new Date().toISOString(),
          total_ms: 5,
        });
        const keys = await redis.keys(q.keys.pattern);
        expect(keys.length).toBeGreaterThan(8);
        expect(keys).toContain(q.keys.bullmq('prioritized'));
        expect(keys).toContain(q.keys.tenantPending);
        expect(new Set(keys.map(keySlot))).toEqual(new Set([keySlot(`{${name}}`)]));
        // Nothing of this queue outside its prefix.
        expect(await redis.keys(`*${name}*`)).toHaveLength(keys.length);
        expect((await q.get({ id, tenant: 'acme' }))?.state).toBe('waiting');
      } finally {
        await q.queue.obliterate({ force: true });
        await q.close();
      }
    });
  });
});
