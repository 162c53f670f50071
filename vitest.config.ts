import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The simulator package from its sources, as `--conditions=source` does for spawned processes. */
export const resolveFromSource = {
  alias: {
    '@promptq/anthropic-simulator': fileURLToPath(
      new URL('./packages/anthropic-simulator/src/index.ts', import.meta.url),
    ),
  },
};

export default defineConfig({
  resolve: resolveFromSource,
  test: {
    include: ['test/**/*.test.ts'],
    // The slow fault tests run with `npm run test:chaos` (vitest.chaos.config.ts), the failover
    // tests on a Redis Cluster or Sentinel set with `npm run test:topology` (vitest.topology.config.ts).
    exclude: ['test/chaos/**', 'test/topology/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Integration tests spawn processes and servers; two cores on CI.
    maxWorkers: 2,
  },
});
