/**
 * The readiness probe of a queue's keys: one Lua call over two of the queue's keys, the same kind of
 * call every enqueue and every finished job makes. It fails where they would fail (no scripting, a
 * cluster slot mismatch, a slot whose primary is down, Redis gone), so `/readyz` reports what the worker meets.
 */
import type { RedisConnection } from './connection.js';
import type { Keyspace } from './keys.js';
import { script } from './scripts.js';

const probeScript = script('probe-2.lua', ['meta', 'pending'], [], (r) => (r as string[]).map(String));

/** Run the probe script on the queue's keys; rejects with Redis's error. */
export async function probeQueueKeys(connection: RedisConnection, keys: Keyspace): Promise<void> {
  await probeScript(connection, { meta: keys.bullmq('meta'), pending: keys.tenantPending }, {});
}
