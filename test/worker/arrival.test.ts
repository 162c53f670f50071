/**
 * Fair from any language (issue 25.6): a job added straight to BullMQ without a priority, as a
 * Python client would, lands in BullMQ's wait list, which BullMQ serves before every prioritized
 * job. The worker gives it promptq's priority on arrival (src/worker/arrival.ts), so it does not
 * overtake HTTP jobs queued earlier at priority 1, costs no attempt, and is counted in and out of
 * its tenant's pending jobs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/core/record.js';
import { until } from '../chaos/helpers.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { get, post, type Stack, startStack, testApiKey } from '../helpers/stack.js';
import { redisEnv } from '../helpers/topology.js';

const n = 5;

describe('worker: jobs from another language get the same priority and fairness', () => {
  let s: Stack | undefined;
  let worker: CliProcess | undefined;
  afterEach(async () => {
    worker?.proc.kill('SIGKILL');
    await s?.close();
  });

  it('raw BullMQ jobs without a priority, added after HTTP jobs at priority 1, do not overtake them', async () => {
    // The API only: the jobs wait until the worker starts, all of them queued.
    s = await startStack({ sim: { ttftMs: 15 }, parts: { worker: false } });
    const web: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await post(`${s.url}/v1/jobs`, {
        model: 'claude-haiku-4-5',
        max_tokens: 20,
        prompt: `web ${i}`,
        tenant_id: 'web',
        priority: 1,
      });
      expect(r.status).toBe(202);
      web.push(r.body.id as string);
    }
    // What a Python client does: Queue("prompts").add(name, data), no priority, no promptq.
    const raw: string[] = [];
    for (let i = 0; i < n; i++) {
      const job = await s.bull.add('claude-haiku-4-5', {
        model: 'claude-haiku-4-5',
        max_tokens: 20,
        prompt: `python ${i}`,
        tenant_id: 'py',
      });
      raw.push(job.id as string);
    }
    // BullMQ's wait list (served first) holds the raw jobs; the HTTP jobs are prioritized.
    expect(await s.bull.getJobCounts('wait', 'prioritized')).toEqual({ wait: n, prioritized: n });
    // One job at a time, so the order jobs start in is the order the queue serves them.
    worker = spawnCli(['worker'], {
      ...redisEnv(),
      PROMPTQ_QUEUE: s.config.queue,
      ANTHROPIC_API_KEY: testApiKey,
      ANTHROPIC_BASE_URL: s.sim.url,
      PROMPTQ_CONCURRENCY: '1',
      PORT: '0',
    });
    const stack = s;
    await until(
      async () => (await stack.bull.getJobCounts('completed')).completed === 2 * n,
      'every job to complete',
      60_000,
    );
    const started = async (id: string) => {
      const v = await get(`${stack.url}/v1/jobs/${id}`);
      const record = v.body.record as JobRecord;
      expect(v.body.state).toBe('completed');
      // Normalising spent no attempt.
      expect(record.attempts).toBe(1);
      return Date.parse(record.started_at ?? '');
    };
    const webStarts = await Promise.all(web.map(started));
    const rawStarts = await Promise.all(raw.map(started));
    console.log(
      `arrival: last priority-1 HTTP job started ${new Date(Math.max(...webStarts)).toISOString()}, ` +
        `first raw BullMQ job ${new Date(Math.min(...rawStarts)).toISOString()}`,
    );
    expect(Math.min(...rawStarts)).toBeGreaterThanOrEqual(Math.max(...webStarts));
    // The raw jobs took promptq's default priority and their tenant's ranks, in the order added.
    const priorities = await Promise.all(
      raw.map(async (id) => Number((await stack.bull.getJob(id))?.priority)),
    );
    expect(priorities).toEqual([0, 1, 2, 3, 4].map((rank) => 100 * 2048 + rank));
    // Counted in on arrival and out when finished: no tenant is left with phantom pending jobs.
    expect(await s.redis.hgetall(s.svc.queue.keys.tenantPending)).toEqual({});
  }, 90_000);
});
