import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { TestRedis } from './helpers/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** One private redis-server for the whole run; tests isolate themselves by queue name. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = new TestRedis();
  await redis.start();
  project.provide('redisUrl', redis.url);
  return () => redis.destroy();
}
