/**
 * Every key promptq writes is its queue's (or its limiter group's): on a Redis Cluster each multi-key
 * script and pipeline then stays in one slot. The whole product runs once against the run's Redis —
 * the API and a worker, a tenant with a budget, a quota and a share (added with the CLI), jobs over
 * HTTP, the rollups, `promptq backfill` live and through the Message Batches API, the dashboard and
 * `promptq report` — then every key that appeared is listed (SCAN on every primary) and checked:
 *
 * - a key of the queue is under its prefix and, on a cluster, in the slot of `{<queue>}`;
 * - a key of the limiter is `promptq:limiter:{<account>:<group>}[…]`: in its group's slot;
 * - the account's one key, the worker processes drawing on it, is `promptq:limiter-peers:{<account>}`;
 * - no key naming the queue or the account is anywhere else (an untagged key would be).
 *
 * Runs in `npm run test:topology` (PROMPTQ_TEST_REDIS_MODE=cluster or sentinel; on a sentinel set
 * the slots do not apply and the rest is checked).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountFingerprint } from '../../src/providers/account.js';
import { type RedisConnection, waitUntilReachable } from '../../src/store/connection.js';
import { spawnCli } from '../helpers/cli.js';
import { get, post, type Stack, startStack, testApiKey } from '../helpers/stack.js';
import { redisEnv, testRedis, testRedisMode } from '../helpers/topology.js';
import { keySlot } from '../store/slot.js';

const mode = testRedisMode();

/** Every key in the run's Redis: SCAN on each primary of a cluster, on the one server otherwise. */
async function allKeys(redis: RedisConnection): Promise<Set<string>> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const keys = new Set<string>();
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const k of batch) keys.add(k);
    } while (cursor !== '0');
  }
  return keys;
}

const regex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the keyspace: every key promptq writes is its queue’s, its limiter group’s or its account’s', () => {
  let redis: RedisConnection;
  let s: Stack;
  let before: Set<string>;
  const dir = mkdtempSync(join(tmpdir(), 'promptq-keyspace-'));
  const admin = 'keyspace-admin-token-0123456789';

  beforeAll(async () => {
    redis = testRedis();
    // Connected (a cluster's nodes known) before the first SCAN: else it lists no node.
    await waitUntilReachable(redis, 30_000);
    before = await allKeys(redis);
    s = await startStack({
      env: { PROMPTQ_AUTH_TOKEN: admin },
      sim: { batches: { processingSeconds: 1 } },
    });
  });
  afterAll(async () => {
    await s?.close();
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pipeline, tenant budget and quota, rollups, backfill live and through batches', async () => {
    // Keys that appeared, listed after each step (some expire soon: a full share bucket, a claim).
    const written = new Set<string>();
    const look = async () => {
      for (const k of await allKeys(redis)) if (!before.has(k)) written.add(k);
    };
    const env = {
      ...redisEnv(),
      PROMPTQ_QUEUE: s.config.queue,
      ANTHROPIC_API_KEY: testApiKey,
      ANTHROPIC_BASE_URL: s.sim.url,
    };
    // A tenant with a daily budget, a per-minute quota and a share of the limits, by the CLI.
    const add = spawnCli(
      ['tenants', 'add', 'acme', '--daily-usd', '5', '--rpm', '1000', '--tpm', '10000000', '--share', '0.5'],
      env,
    );
    expect(await add.exited, add.stderr()).toBe(0);
    const tenantToken = add.stdout().trim();

    // Jobs over HTTP: the tenant's (budget held and settled, quota and share charged) and the admin's.
    const job = { model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'hi' };
    const ids: string[] = [];
    // Enqueued while the queue is paused: their pending counts and claims are there to be seen.
    const pause = spawnCli(['pause'], env);
    expect(await pause.exited, pause.stderr()).toBe(0);
    for (const [token, n] of [
      [tenantToken, 3],
      [admin, 2],
    ] as const) {
      for (let i = 0; i < n; i++) {
        const r = await post(`${s.url}/v1/jobs`, job, { authorization: `Bearer ${token}` });
        expect(r.status).toBe(202);
        ids.push(r.body.id as string);
      }
    }
    await look();
    const resume = spawnCli(['resume'], env);
    expect(await resume.exited, resume.stderr()).toBe(0);
    for (const id of ids) {
      const r = await get(`${s.url}/v1/jobs/${id}?wait=60`, { authorization: `Bearer ${admin}` });
      expect(r.body.state).toBe('completed');
    }
    await look();

    // Backfill, live then through the Message Batches API, each waiting for its results.
    const lines = (tag: string) =>
      Array.from({ length: 6 }, (_, i) =>
        JSON.stringify({ ...job, prompt: `${tag} ${i}`, tenant_id: 'acme' }),
      );
    const live = join(dir, 'live.jsonl');
    writeFileSync(live, `${lines('live').join('\n')}\n`);
    const liveRun = spawnCli(['backfill', live, '--wait', '--json'], env);
    expect(await liveRun.exited, liveRun.stderr()).toBe(0);
    await look();
    const batch = join(dir, 'batch.jsonl');
    writeFileSync(batch, `${lines('batch').join('\n')}\n`);
    const batchRun = spawnCli(['backfill', batch, '--via', 'batches', '--wait', '--json'], env);
    expect(await batchRun.exited, batchRun.stderr()).toBe(0);
    expect(JSON.parse(batchRun.stdout()).batches).toMatchObject({ submitted: 6, succeeded: 6 });
    await look();

    // The readers: the dashboard and `promptq report` (they write nothing).
    const dashboard = await get(`${s.url}/dashboard/data?range=1h`, { authorization: `Bearer ${admin}` });
    expect(dashboard.body.totals.jobs).toBe(ids.length + 12);
    const report = spawnCli(['report', '--since', '1h', '--json'], env);
    expect(await report.exited, report.stderr()).toBe(0);
    const batches = spawnCli(['batches', 'list', '--json'], env);
    expect(await batches.exited, batches.stderr()).toBe(0);
    expect(batches.stdout().trim().split('\n')).toHaveLength(1);

    await look();
    const queue = s.config.queue;
    const base = s.svc.queue.keys.base;
    const account = accountFingerprint(`${s.sim.url}|${testApiKey}`);
    // The keys this run wrote: every key naming its queue or its account (other test files' queues
    // are not its business). Each must be the queue's (under its prefix) or the limiter's.
    const mine = [...written].filter((k) => k.includes(queue) || k.includes(account));
    // The queue's own keys, and those of the queues beside it (its webhook deliveries' BullMQ queue,
    // `<queue>.webhooks`, under the same prefix and hash tag).
    const beside = `${s.svc.queue.keys.prefix}:${s.svc.queue.keys.webhookQueue}:`;
    const ofQueue = mine.filter((k) => k.startsWith(`${base}:`) || k.startsWith(beside));
    // The limiter's keys: `promptq:limiter:<account>:<group>[…]` (a tenant's share, a cached prefix), the group hash-tagged on a cluster.
    const limiterKey =
      mode === 'cluster'
        ? new RegExp(`^promptq:limiter:\\{${regex(account)}:([^}]+)\\}(:tenant:.+|:cache:.+)?$`)
        : new RegExp(`^promptq:limiter:${regex(account)}:([^:{}]+)(:tenant:.+|:cache:.+)?$`);
    const ofLimiter = mine.filter((k) => limiterKey.test(k));
    // The account's one key of its own: the worker processes drawing on it (limiter/peers.ts), a
    // single key (one slot), tagged on a cluster.
    const peersKey =
      mode === 'cluster'
        ? new RegExp(`^promptq:limiter-peers:\\{${regex(account)}\\}$`)
        : new RegExp(`^promptq:limiter-peers:${regex(account)}$`);
    const ofAccount = mine.filter((k) => peersKey.test(k));
    expect(ofAccount).toHaveLength(1);
    // Nothing outside the keyspace (an untagged key of the queue would be here).
    expect(
      mine.filter((k) => !ofQueue.includes(k) && !ofLimiter.includes(k) && !ofAccount.includes(k)),
    ).toEqual([]);

    // It wrote what it was asked to: BullMQ's keys and promptq's of every kind, the limiter's.
    const kinds = [
      ':completed',
      ':meta',
      ':events',
      ':promptq:tenant-pending',
      ':promptq:claim:',
      ':promptq:rollup:',
      ':promptq:rollup:day:',
      ':promptq:slowest:',
      ':promptq:tenants',
      ':promptq:tenant:acme',
      ':promptq:tenant-tokens',
      ':promptq:budget:acme:day:',
      ':promptq:budget:acme:month:',
      ':promptq:quota:acme',
      ':promptq:batches',
      ':promptq:batch:',
      ':promptq:batch-of',
    ];
    for (const kind of kinds)
      expect(
        ofQueue.some((k) => k.includes(kind)),
        kind,
      ).toBe(true);
    expect(ofLimiter.some((k) => !k.includes(':tenant:'))).toBe(true);
    expect(ofLimiter.some((k) => k.includes(`:tenant:${base}/acme`))).toBe(true);

    if (mode !== 'cluster') return;
    // On a cluster: each key in its queue's slot, each limiter key in its group's.
    const queueSlot = keySlot(`{${queue}}`);
    expect(Number(await (redis as Cluster).cluster('KEYSLOT', base))).toBe(queueSlot);
    expect(ofQueue.filter((k) => keySlot(k) !== queueSlot)).toEqual([]);
    const outOfGroup = ofLimiter.filter((k) => {
      const group = limiterKey.exec(k)?.[1];
      return keySlot(k) !== keySlot(`{${account}:${group}}`);
    });
    expect(outOfGroup).toEqual([]);
  }, 300_000);
});
