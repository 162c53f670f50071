import { defineConfig } from 'vitest/config';
import { resolveFromSource } from './vitest.config.js';

/**
 * The slow fault tests (`npm run test:chaos`): killed workers, a restarted Redis, API faults,
 * shutdown under load, the load run. They start their own processes and Redis servers, so they run
 * one file at a time to keep timings honest on two cores.
 */
export default defineConfig({
  resolve: resolveFromSource,
  test: {
    include: ['test/chaos/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
