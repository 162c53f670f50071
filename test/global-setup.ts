import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import type { RedisMode } from '../src/core/redis-url.js';
import { TestCluster } from './helpers/redis-cluster.js';
import { TestSentinel } from './helpers/redis-sentinel.js';
import { TestRedis } from './helpers/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    redisMode: RedisMode;
    redisSentinelName: string;
  }
}

/**
 * One private Redis for the whole run; tests isolate themselves by queue name. Its topology comes
 * from `PROMPTQ_TEST_REDIS_MODE`: `single` (default) a redis-server, `cluster` a 3-primary /
 * 3-replica Redis Cluster, `sentinel` a master, a replica and three sentinels.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const mode = (process.env.PROMPTQ_TEST_REDIS_MODE ?? 'single') as RedisMode;
  const redis =
    mode === 'cluster'
      ? new TestCluster()
      : mode === 'sentinel'
        ? new TestSentinel()
        : mode === 'single'
          ? new TestRedis()
          : undefined;
  if (!redis) throw new Error(`PROMPTQ_TEST_REDIS_MODE: expected single, cluster or sentinel, got "${mode}"`);
  await redis.start();
  project.provide('redisUrl', redis.url);
  project.provide('redisMode', mode);
  project.provide('redisSentinelName', redis instanceof TestSentinel ? redis.name : '');
  return () => redis.destroy();
}
