/**
 * The queue's readiness checks, behind `/readyz`:
 * - {@link checkQueueScripts}: one Lua call over two of the queue's keys, the same kind of call
 *   every enqueue and every finished job makes. It fails where they would fail (no scripting, a
 *   cluster slot mismatch, a slot whose primary is down, Redis gone), so `/readyz` reports what the
 *   worker meets.
 * - {@link queueKeyProblems}: is the queue's BullMQ structure intact? A job hash written over one
 *   of BullMQ's own keys (as a caller's id `marker` used to do) makes every later add fail with
 *   `WRONGTYPE` while Redis still answers PING.
 */
import type { RedisConnection as Redis } from './connection.js';
import type { Keyspace } from './keys.js';
import { script } from './scripts.js';

const queueReadyScript = script('queue-ready-2.lua', ['meta', 'pending'], [], (r) =>
  (r as string[]).map(String),
);

/** Run the readiness script on the queue's keys; rejects with Redis's error. */
export async function checkQueueScripts(redis: Redis, keys: Keyspace): Promise<void> {
  await queueReadyScript(redis, { meta: keys.bullmq('meta'), pending: keys.tenantPending }, {});
}

/** The Redis type of each of BullMQ's per-queue keys (absent — `none` — is always fine). */
const expectedTypes: Readonly<Record<string, string>> = {
  wait: 'list',
  paused: 'list',
  active: 'list',
  'waiting-children': 'zset',
  id: 'string',
  delayed: 'zset',
  prioritized: 'zset',
  completed: 'zset',
  failed: 'zset',
  stalled: 'set',
  'stalled-check': 'string',
  repeat: 'zset',
  limiter: 'string',
  meta: 'hash',
  events: 'stream',
  pc: 'string',
  marker: 'zset',
};

/** The keys of the queue whose type is wrong, as `key: is T, expected U` (empty when all is well). */
export async function queueKeyProblems(redis: Redis, keys: Keyspace): Promise<string[]> {
  const names = Object.keys(expectedTypes);
  const pipe = redis.pipeline();
  for (const n of names) pipe.type(keys.bullmq(n));
  const replies = (await pipe.exec()) ?? [];
  const problems: string[] = [];
  names.forEach((n, i) => {
    const [err, type] = replies[i] ?? [new Error('no reply'), null];
    if (err) throw err;
    const expected = expectedTypes[n];
    if (type !== 'none' && type !== expected)
      problems.push(`${keys.bullmq(n)}: is a ${type}, expected a ${expected}`);
  });
  return problems;
}
