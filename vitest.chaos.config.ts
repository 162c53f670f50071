import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The slow fault tests (`npm run test:chaos`): killed workers, a restarted Redis, API faults,
 * shutdown under load, the load run. They start their own processes and Redis servers, so they run
 * one file at a time to keep timings honest on two cores.
 */
export default defineConfig({
  // The simulator package from its sources, as `--conditions=source` does for spawned processes.
  resolve: {
    alias: {
      '@promptq/anthropic-simulator': fileURLToPath(
        new URL('./packages/anthropic-simulator/src/index.ts', import.meta.url),
      ),
    },
  },
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
