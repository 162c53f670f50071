/**
 * Caller ids never touch BullMQ's key space. A job `id` (or a backfill `custom_id`) equal to one of
 * BullMQ's key suffixes used to become the job hash `…:<suffix>` on top of BullMQ's own structure:
 * every later add failed with WRONGTYPE. Each suffix (BullMQ's own list), integers and odd cases go
 * through the API and backfill here, and the queue must keep working; the control writes a job
 * under a raw `marker` id the way another BullMQ client could, and `/readyz` must notice.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueKeys as BullKeys } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { enqueueFile } from '../../src/producer/backfill/enqueue.js';
import { collectResults } from '../../src/producer/backfill/results.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { bullmqKeySuffixes } from '../../src/store/keys.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

/** BullMQ's own per-queue key suffixes (from BullMQ, so a new one shows up here), plus more. */
const suffixes = [
  ...new Set([
    ...Object.keys(new BullKeys('bull').getKeys('q')).filter((k) => k !== ''),
    ...bullmqKeySuffixes,
    'metrics',
    'promptq',
    'lock',
  ]),
];
const ids = [...suffixes, '1', '42', '007', 'Marker', 'wait-1', '_', '-'];
const body = { model: 'claude-haiku-4-5', max_tokens: 8, prompt: 'hi' };

describe('job ids over BullMQ key names', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s?.close());

  it('BullMQ names every key suffix promptq knows of', () => {
    for (const k of Object.keys(new BullKeys('bull').getKeys('q')).filter((k) => k !== ''))
      expect(bullmqKeySuffixes.has(k), k).toBe(true);
  });

  it('every id is accepted, runs and reads back under the caller’s id; the queue keeps working', async () => {
    for (const id of ids) {
      const r = await post(`${s.url}/v1/jobs`, { ...body, id });
      expect(r.status, id).toBe(202);
      expect(r.body.id).toBe(id);
      // The same id again is the same job.
      expect((await post(`${s.url}/v1/jobs`, { ...body, id })).status, id).toBe(200);
    }
    for (const id of ids) {
      const r = await get(`${s.url}/v1/jobs/${id}?wait=30`);
      expect(r.status, id).toBe(200);
      expect(r.body.id).toBe(id);
      expect(r.body.state, id).toBe('completed');
      expect(r.body.record.output_tokens, id).toBeGreaterThan(0);
    }
    // Later adds work, and the queue is healthy.
    const after = await post(`${s.url}/v1/jobs`, body);
    expect(after.status).toBe(202);
    expect((await get(`${s.url}/v1/jobs/${after.body.id}?wait=30`)).body.state).toBe('completed');
    expect((await get(`${s.url}/readyz`)).status).toBe(200);
    // Worker logs show the caller's id.
    const logged = new Set(s.logs.map((l) => l.job_id).filter((x) => x !== undefined));
    for (const id of ids) expect(logged.has(id), id).toBe(true);
    expect(s.logs.filter((l) => l.level === 'error')).toEqual([]);
  }, 120_000);

  it('backfill custom_ids named like BullMQ keys run, and a re-run adds nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pq-ids-'));
    const file = join(dir, 'in.jsonl');
    writeFileSync(
      file,
      suffixes
        .map((id) =>
          JSON.stringify({ custom_id: id, params: { ...body, messages: [{ role: 'user', content: id }] } }),
        )
        .map((l) => l.replace('"prompt":"hi",', ''))
        .join('\n'),
    );
    // A stack of its own: the ids above are taken on the first one.
    const b = await startStack();
    const q = new PromptQueue({ connection: b.redis, queue: b.config.queue });
    const d = { tenant: 'bf', priority: 100, idPrefix: '', limits: defaultJobLimits };
    expect((await enqueueFile(q, file, d)).added).toBe(suffixes.length);
    expect((await enqueueFile(q, file, d)).added).toBe(0);
    const summary = await collectResults(file, d, {
      redis: b.redis,
      keys: q.keys,
      wait: true,
      timeoutMs: 60_000,
      pollMs: 50,
    });
    expect(summary, JSON.stringify(summary)).toMatchObject({ succeeded: suffixes.length });
    expect((await get(`${b.url}/readyz`)).status).toBe(200);
    await q.close();
    await b.close();
  }, 120_000);

  it('control: a job another client adds under the raw id "marker" breaks the queue, and /readyz says so', async () => {
    // What a caller's id used to do on a queue whose marker was gone: BullMQ's marker key becomes
    // a job hash, and every later add fails.
    await s.redis.del(s.svc.queue.keys.bullmq('marker'));
    // BullMQ's own add fails half way (WRONGTYPE), its job hash already written.
    await expect(s.bull.add('x', body, { jobId: 'marker' })).rejects.toThrow(/WRONGTYPE/);
    expect(await s.redis.type(s.svc.queue.keys.bullmq('marker'))).toBe('hash');
    expect((await post(`${s.url}/v1/jobs`, body)).status).toBe(500);
    const ready = await get(`${s.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(ready.body.queue)).toContain(':marker: is a hash, expected a zset');
    // The caller's job "marker" is still the one the API shows, not BullMQ's broken key.
    const mine = await get(`${s.url}/v1/jobs/marker`);
    expect(mine.body).toMatchObject({ id: 'marker', state: 'completed' });
  });
});
