import { defineConfig } from 'vitest/config';
import { resolveFromSource } from './vitest.config.js';

/**
 * The tests that must hold on every Redis topology, run against a Redis Cluster or a Sentinel set
 * (`PROMPTQ_TEST_REDIS_MODE=cluster|sentinel npm run test:topology`; test/global-setup.ts starts
 * it): the pipeline, the limiter, idempotency, backfill, the promise set of README's Guarantees
 * (workers killed, shutdown, API faults, hostile input and caps, budgets and their escapes, waiters,
 * webhooks, event streams and ETAs, the dashboard and its rollups), the keyspace test (test/topology/keyspace.test.ts: every key written is in its
 * queue's or limiter group's slot), and the failover tests (test/topology/failover.test.ts), which
 * start a topology of their own to kill its nodes. Tests whose subject is not Redis (the API-faults
 * control, the idle waiters' command count on a private server) skip themselves here.
 */
export default defineConfig({
  resolve: resolveFromSource,
  test: {
    include: [
      'test/worker/worker.test.ts',
      'test/ops/http/api.test.ts',
      'test/producer/enqueue.test.ts',
      'test/limiter/shared-state.test.ts',
      'test/limiter/multi-process.test.ts',
      'test/backfill/backfill-cli.test.ts',
      'test/chaos/worker-kill.test.ts',
      'test/chaos/shutdown.test.ts',
      'test/chaos/api-faults.test.ts',
      'test/security/hostile-input.test.ts',
      'test/security/caps.test.ts',
      'test/tenants/budget-enforcement.test.ts',
      'test/budget/escapes.test.ts',
      'test/events/webhooks.test.ts',
      'test/events/sse.test.ts',
      'test/events/eta.test.ts',
      'test/store/budget-store.test.ts',
      'test/producer/waiters.test.ts',
      'test/ops/dashboard/rollups.test.ts',
      'test/ops/dashboard/dashboard.test.ts',
      'test/ops/dashboard/multi-worker.test.ts',
      // keyspace.test.ts and failover.test.ts.
      'test/topology/**/*.test.ts',
    ],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
