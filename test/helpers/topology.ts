/**
 * The Redis topology this test run uses (test/global-setup.ts starts it from
 * `PROMPTQ_TEST_REDIS_MODE`: single, cluster or sentinel), and everything a test needs to talk to
 * it the way promptq does: the environment, a connection, the queue's keys, a plain BullMQ queue.
 */
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { inject } from 'vitest';
import { type PromptqOptions, resolveConfig } from '../../src/core/config.js';
import type { RedisMode } from '../../src/core/redis-url.js';
import { createConnection, type RedisConnection } from '../../src/store/connection.js';
import { type Keyspace, keyspaceOf } from '../../src/store/keys.js';

export function testRedisMode(): RedisMode {
  return inject('redisMode');
}

/** REDIS_URL and PROMPTQ_REDIS_MODE (and the sentinel name) for a promptq process of this run. */
export function redisEnv(): Record<string, string> {
  const mode = testRedisMode();
  return {
    REDIS_URL: inject('redisUrl'),
    PROMPTQ_REDIS_MODE: mode,
    ...(mode === 'sentinel' ? { PROMPTQ_REDIS_SENTINEL_NAME: inject('redisSentinelName') } : {}),
  };
}

/** A connection to the run's Redis through promptq's own factory. */
export function testRedis(): RedisConnection {
  return createConnection({
    mode: testRedisMode(),
    url: inject('redisUrl'),
    sentinelName: inject('redisSentinelName'),
  });
}

/** The `redis` settings of this run (hash-tagged keys on a cluster), for a queue or a worker. */
export function testSettings(): Pick<PromptqOptions, 'redis'> {
  const mode = testRedisMode();
  return {
    redis: {
      url: inject('redisUrl'),
      mode,
      ...(mode === 'sentinel' ? { sentinelName: inject('redisSentinelName') } : {}),
    },
  };
}

/** A queue's keys as promptq builds them in this run's mode. */
export function testKeys(queue: string): Keyspace {
  return keyspaceOf(resolveConfig({ queue, ...testSettings() }));
}

/** A plain BullMQ queue handle on `queue` (what another language's client would open). */
export function bullQueue(queue: string, connection: RedisConnection): Queue {
  return new Queue(queue, { connection, prefix: testKeys(queue).prefix });
}

/**
 * The keys matching `pattern` in this run's Redis: on a cluster, those of every primary (a plain
 * KEYS or SCAN there reaches one node only).
 */
export async function keysMatching(redis: RedisConnection, pattern: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
  }
  return keys;
}
