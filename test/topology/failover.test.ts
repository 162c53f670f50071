import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { Keyspace } from '../../src/store/keys.js';
import { metricSum, reap, startWorker, until } from '../chaos/helpers.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { type RedisProcess, TestCluster } from '../helpers/redis-cluster.js';
import { TestSentinel } from '../helpers/redis-sentinel.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testRedisMode } from '../helpers/topology.js';

/**
 * Failover under load, against real servers: an API process and three worker processes run jobs
 * on a Redis Cluster (3 primaries, 3 replicas) or a Sentinel set (master, replica, 3 sentinels);
 * mid-run the primary holding the queue is SIGKILLed, a replica is promoted, and the killed node
 * comes back as a replica. Clients retry a failed POST with the same job id (idempotent), as
 * docs/operations.md tells them to.
 *
 * Measured and printed: jobs accepted (a 2xx for their id), completed, duplicated (the API served
 * one job's call more than once) and lost (accepted, never completed). Redis replicates
 * asynchronously, so writes acknowledged in the last moments before the kill may be missing on the
 * promoted replica: the bound asserted is "lost ≤ jobs accepted in the second before the kill", and
 * duplicates are bounded by the calls in flight then (a finished job whose completion was lost runs
 * again). docs/operations.md records the numbers.
 */
const mode = testRedisMode();
if (mode === 'single') throw new Error('test/topology runs with PROMPTQ_TEST_REDIS_MODE=cluster or sentinel');

interface Topology {
  url: string;
  env: Record<string, string>;
  /** The data node holding the queue's keys now. */
  primaryFor(queue: string): Promise<RedisProcess>;
  /** Resolves once a replica serves the queue again (promotion done). */
  promoted(queue: string, killed: RedisProcess): Promise<void>;
  destroy(): Promise<void>;
}

async function startTopology(): Promise<Topology> {
  if (mode === 'cluster') {
    const c = new TestCluster({ nodeTimeoutMs: 2000 });
    await c.start();
    const slotKey = (queue: string) => new Keyspace({ queue: queue, hashTag: true }).bullmq('wait');
    return {
      url: c.url,
      env: { REDIS_URL: c.url, PROMPTQ_REDIS_MODE: 'cluster' },
      primaryFor: (queue) => c.primaryOf(slotKey(queue)),
      async promoted(queue, killed) {
        await until(
          async () => (await c.primaryOf(slotKey(queue)).catch(() => killed)) !== killed,
          'a replica to take over the slot',
          30_000,
        );
        await c.waitHealthy(30_000);
      },
      destroy: () => c.destroy(),
    };
  }
  const s = new TestSentinel({ downAfterMs: 1000 });
  await s.start();
  return {
    url: s.url,
    env: { REDIS_URL: s.url, PROMPTQ_REDIS_MODE: 'sentinel', PROMPTQ_REDIS_SENTINEL_NAME: s.name },
    primaryFor: () => s.master(),
    async promoted(_queue, killed) {
      await until(
        async () => (await s.masterPort().catch(() => killed.port)) !== killed.port,
        'the sentinels to promote the replica',
        30_000,
      );
    },
    destroy: () => s.destroy(),
  };
}

describe(`failover on Redis ${mode === 'cluster' ? 'Cluster' : 'Sentinel'}`, { timeout: 240_000 }, () => {
  let topo: Topology;
  let sim: Simulator;
  const served: ServedResponse[] = [];
  const procs: CliProcess[] = [];
  beforeAll(async () => {
    topo = await startTopology();
    sim = await startSimulator({
      seed: 12,
      // Limits far above the load: the headers end the limiter's discovery at once.
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

  it('SIGKILL of the primary mid-run: a replica is promoted; every accepted job completes, once (or the loss is bounded)', async () => {
    const queue = uniqueQueue();
    const env = {
      ...topo.env,
      ANTHROPIC_API_KEY: 'sk-ant-failover-0123456789',
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
    for (let i = 0; i < 3; i++) procs.push(await startWorker({ ...env, PROMPTQ_LOG_LEVEL: 'info' }));

    // Producers: 4 clients, each POSTing jobs one after another for `runMs`, retrying a failed POST
    // with the same id (bounded) as a well-behaved client does.
    const runMs = 9000;
    // Enough jobs to be in every state at the kill, few enough to finish soon on a busy 2-core CI box.
    const maxJobs = 240;
    const killAtMs = 3000;
    const t0 = Date.now();
    const acceptedAt = new Map<string, number>();
    let postFailures = 0;
    let given = 0;
    async function submit(id: string): Promise<void> {
      const deadline = Date.now() + 45_000;
      for (;;) {
        try {
          const res = await fetch(`${apiUrl}/v1/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              id,
              model: 'claude-haiku-4-5',
              max_tokens: 40,
              prompt: id,
              tenant_id: id,
            }),
            signal: AbortSignal.timeout(5000),
          });
          await res.arrayBuffer();
          if (res.status === 200 || res.status === 202) {
            acceptedAt.set(id, Date.now() - t0);
            return;
          }
        } catch {
          // a timeout or a reset: retried like a 5xx
        }
        postFailures += 1;
        if (Date.now() > deadline) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const producers = Array.from({ length: 4 }, async (_, p) => {
      for (let i = 0; Date.now() - t0 < runMs && given < maxJobs; i++) {
        given += 1;
        await submit(`fo-${p}-${i}`);
        await new Promise((r) => setTimeout(r, 40));
      }
    });

    await new Promise((r) => setTimeout(r, killAtMs));
    const victim = await topo.primaryFor(queue);
    const inFlightAtKill = sim.stats().inFlight;
    const killedAt = Date.now() - t0;
    await victim.stop(true);
    // No primary for the queue: the worker's scripts cannot run, and readiness says so.
    const readyDuringOutage = (await fetch(`${apiUrl}/readyz`)).status;
    await topo.promoted(queue, victim);
    const promotedAfterMs = Date.now() - t0 - killedAt;
    await Promise.all(producers);
    // The old primary comes back (as a replica of the promoted one).
    await victim.start();

    const accepted = [...acceptedAt.keys()];
    const states = new Map<string, string>();
    const finished = async () => {
      await Promise.all(
        accepted
          .filter((id) => states.get(id) !== 'completed')
          .map(async (id) => {
            // Each job is its own tenant's, by its own id (ids are per tenant).
            const res = await fetch(`${apiUrl}/v1/jobs/${id}?tenant=${id}`).catch(() => undefined);
            const body = res ? ((await res.json().catch(() => ({}))) as { state?: string }) : {};
            states.set(id, res?.status === 404 ? 'missing' : (body.state ?? 'unknown'));
          }),
      );
      // Settled: nothing accepted is still waiting, delayed or running.
      return accepted.every((id) => ['completed', 'failed', 'missing'].includes(states.get(id) ?? ''));
    };
    const restartedAt = Date.now() - t0;
    await until(finished, 'every accepted job to complete, fail or be found missing', 150_000).catch(
      () => {},
    );
    const settledAt = Date.now() - t0;

    const callsPerJob = new Map<string, number>();
    for (const r of served) {
      if (r.outcome === 'completed' && r.userId)
        callsPerJob.set(r.userId, (callsPerJob.get(r.userId) ?? 0) + 1);
    }
    const completed = accepted.filter((id) => states.get(id) === 'completed').length;
    const missing = accepted.filter((id) => states.get(id) === 'missing').length;
    const pending = accepted.filter(
      (id) => !['completed', 'failed', 'missing'].includes(states.get(id) ?? ''),
    ).length;
    const lost = accepted.length - completed;
    const duplicated = accepted.filter((id) => (callsPerJob.get(id) ?? 0) > 1).length;
    const acceptedJustBeforeKill = [...acceptedAt.values()].filter(
      (t) => t >= killedAt - 1000 && t <= killedAt,
    ).length;
    const metrics = await Promise.all(
      procs.slice(1).map(async (w) => {
        const url = (w as CliProcess & { url?: string }).url;
        return url ? metricSum(await (await fetch(`${url}/metrics`)).text(), 'promptq_jobs_total') : 0;
      }),
    );
    const notCompleted: Record<string, number> = {};
    for (const id of accepted) {
      const st = states.get(id) ?? 'unknown';
      if (st !== 'completed') notCompleted[st] = (notCompleted[st] ?? 0) + 1;
    }
    const report = {
      topology: mode,
      submitted: given,
      accepted: accepted.length,
      completed,
      duplicated,
      lost,
      lost_missing: missing,
      lost_by_state: notCompleted,
      still_pending_at_deadline: pending,
      post_retries: postFailures,
      killed_at_ms: killedAt,
      promoted_after_ms: promotedAfterMs,
      old_primary_back_at_ms: restartedAt,
      all_settled_at_ms: settledAt,
      in_flight_at_kill: inFlightAtKill,
      readyz_during_outage: readyDuringOutage,
      accepted_in_second_before_kill: acceptedJustBeforeKill,
      finished_per_worker: metrics,
    };
    console.log(`failover ${JSON.stringify(report)}`);
    {
      // What the processes said, for a diagnosis: distinct warnings and errors with counts.
      const said = new Map<string, number>();
      for (const p of procs) {
        for (const l of p.logs()) {
          if (l.level !== 'warn' && l.level !== 'error') continue;
          const k = `${l.msg} ${String(l.error ?? l.reason ?? '').slice(0, 120)}`;
          said.set(k, (said.get(k) ?? 0) + 1);
        }
      }
      console.log([...said].map(([k, c]) => `${c}× ${k}`).join('\n'));
    }

    expect(accepted.length).toBeGreaterThan(30);
    expect(pending).toBe(0);
    expect(readyDuringOutage).toBe(503);
    // Writes acknowledged just before the kill may not have reached the replica: bounded, measured.
    expect(lost).toBeLessThanOrEqual(acceptedJustBeforeKill);
    expect(duplicated).toBeLessThanOrEqual(inFlightAtKill + acceptedJustBeforeKill);
    // Nothing is left running: the API answers and /readyz is ready on the new topology.
    const ready = await fetch(`${apiUrl}/readyz`);
    expect(ready.status).toBe(200);
  });
});
