import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { TestSentinel } from '../helpers/redis-sentinel.js';
import { uniqueQueue } from '../helpers/stack.js';
import { reap, startWorker, until } from './helpers.js';

/**
 * Riding through a Sentinel failover (issue 24 item 4), against real servers: a master, a replica
 * and three sentinels; an API process and two workers; a steady stream of enqueues, each POSTed
 * ONCE (no client retry) at a steady rate, while the master is SIGKILLed. An enqueue waits for the promoted replica
 * (PROMPTQ_ENQUEUE_TIMEOUT_MS) instead of failing at once, and the workers carry on there without a
 * restart.
 *
 * Asserted: ≥ 99% of the POSTs accepted; every accepted job completes; the API calls the simulator
 * itself served more than once for one job are at most the calls in flight at the kill (a call
 * whose completion the dead master took with it runs again). Printed: `failover-ride {…}`.
 * Run: `nice npx vitest run --config vitest.chaos.config.ts test/chaos/failover.test.ts`.
 */
describe('chaos: Sentinel failover under a steady stream of enqueues', { timeout: 240_000 }, () => {
  let topo: TestSentinel;
  let sim: Simulator;
  const served: ServedResponse[] = [];
  const procs: CliProcess[] = [];
  beforeAll(async () => {
    topo = new TestSentinel({ downAfterMs: 1000 });
    await topo.start();
    sim = await startSimulator({
      seed: 24,
      limits: { rpm: 600_000, itpm: 100_000_000, otpm: 100_000_000 },
      ttftMs: 150,
      msPerToken: 2,
      output: { cap: 40 },
      onServed: (r) => served.push(r),
    });
  });
  afterAll(async () => {
    for (const p of procs) await reap(p);
    await sim?.close();
    await topo?.destroy();
  });

  it('master SIGKILLed mid-stream: ≥ 99% of single POSTs accepted, every accepted job completes once', async () => {
    const queue = uniqueQueue();
    const env = {
      REDIS_URL: topo.url,
      PROMPTQ_REDIS_MODE: 'sentinel',
      PROMPTQ_REDIS_SENTINEL_NAME: topo.name,
      ANTHROPIC_API_KEY: 'sk-ant-failover-ride-0123456789',
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: queue,
      PROMPTQ_LOG_LEVEL: 'warn',
      PROMPTQ_CONCURRENCY: '4',
      PROMPTQ_LOCK_DURATION_MS: '4000',
      PROMPTQ_STALLED_INTERVAL_MS: '2000',
    };
    const api = spawnCli(['api'], { ...env, PORT: '0', PROMPTQ_LOG_LEVEL: 'info' });
    procs.push(api);
    const apiUrl = String((await api.waitForLog((l) => l.msg === 'promptq running', 60_000)).url);
    for (let i = 0; i < 2; i++) procs.push(await startWorker({ ...env, PROMPTQ_LOG_LEVEL: 'info' }));

    const runMs = 9000;
    const killAtMs = 3000;
    const t0 = Date.now();
    const acceptedAt = new Map<string, number>();
    const refused = new Map<string, number>();
    let submitted = 0;
    let slowest = 0;
    async function submitOnce(id: string): Promise<void> {
      const started = Date.now();
      const status = await fetch(`${apiUrl}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, model: 'claude-haiku-4-5', max_tokens: 40, prompt: id, tenant_id: id }),
        signal: AbortSignal.timeout(30_000),
      })
        .then(async (res) => {
          await res.arrayBuffer();
          return res.status;
        })
        .catch(() => 0);
      slowest = Math.max(slowest, Date.now() - started);
      if (status === 200 || status === 202) acceptedAt.set(id, Date.now() - t0);
      else refused.set(String(status), (refused.get(String(status)) ?? 0) + 1);
    }
    // Open loop, as traffic arrives: a POST every 20 ms whatever the earlier ones are waiting for
    // (a client that waits for each answer would send nothing while Redis is away).
    const posts: Promise<void>[] = [];
    const producer = (async () => {
      for (let i = 0; Date.now() - t0 < runMs; i++) {
        submitted += 1;
        posts.push(submitOnce(`ride-${i}`));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const producers = [producer.then(() => Promise.all(posts))];

    await new Promise((r) => setTimeout(r, killAtMs));
    const victim = await topo.master();
    const inFlightAtKill = sim.stats().inFlight;
    const killedAt = Date.now() - t0;
    await victim.stop(true);
    await until(
      async () => (await topo.masterPort().catch(() => victim.port)) !== victim.port,
      'the sentinels to promote the replica',
      30_000,
    );
    const promotedAfterMs = Date.now() - t0 - killedAt;
    await Promise.all(producers);

    const accepted = [...acceptedAt.keys()];
    const states = new Map<string, string>();
    const settled = async () => {
      await Promise.all(
        accepted
          .filter((id) => states.get(id) !== 'completed')
          .map(async (id) => {
            // Each job is its own tenant's (ids are per tenant): the admin reads it with ?tenant=.
            const res = await fetch(`${apiUrl}/v1/jobs/${id}?tenant=${id}`).catch(() => undefined);
            const body = res ? ((await res.json().catch(() => ({}))) as { state?: string }) : {};
            states.set(id, res?.status === 404 ? 'missing' : (body.state ?? 'unknown'));
          }),
      );
      return accepted.every((id) => ['completed', 'failed', 'missing'].includes(states.get(id) ?? ''));
    };
    await until(settled, 'every accepted job to settle', 120_000).catch(() => {});

    // The simulator's own count of answered calls per job (the job id travels as metadata.user_id).
    const callsPerJob = new Map<string, number>();
    for (const r of served) {
      if (r.outcome === 'completed' && r.userId)
        callsPerJob.set(r.userId, (callsPerJob.get(r.userId) ?? 0) + 1);
    }
    const completed = accepted.filter((id) => states.get(id) === 'completed').length;
    const calledTwice = accepted.filter((id) => (callsPerJob.get(id) ?? 0) > 1).length;
    const neverCalled = accepted.filter((id) => (callsPerJob.get(id) ?? 0) === 0).length;
    const report = {
      submitted,
      accepted: accepted.length,
      accepted_ratio: Number((accepted.length / submitted).toFixed(4)),
      refused: Object.fromEntries(refused),
      slowest_post_ms: slowest,
      completed,
      not_completed: accepted.length - completed,
      never_called: neverCalled,
      duplicate_calls: calledTwice,
      in_flight_at_kill: inFlightAtKill,
      killed_at_ms: killedAt,
      promoted_after_ms: promotedAfterMs,
    };
    console.log(`failover-ride ${JSON.stringify(report)}`);

    expect(submitted).toBeGreaterThan(100);
    expect(accepted.length / submitted).toBeGreaterThanOrEqual(0.99);
    expect(completed).toBe(accepted.length);
    expect(neverCalled).toBe(0);
    expect(calledTwice).toBeLessThanOrEqual(inFlightAtKill);
    // The workers carried on without a restart: both still run, and both finished jobs.
    for (const p of procs) expect(p.proc.exitCode).toBeNull();
  });
});
