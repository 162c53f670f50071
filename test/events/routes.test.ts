/**
 * One event source for both routes: a job finished through the Message Batches API emits the same
 * events, in the same order and with the same payload shapes, as the same job run by a live worker —
 * a completed one and a failed one (a model the API does not know: 404 live, `errored` in a batch).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromptqEvents } from '../../src/events/emitter.js';
import type { EventName, EventSource } from '../../src/events/types.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { runBatchFile } from '../helpers/batch-file.js';
import { get, post, type Stack, startStack, uniqueQueue } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';

const lifecycle: readonly EventName[] = [
  'queued',
  'started',
  'attempt',
  'retrying',
  'deferred',
  'completed',
  'failed',
  'finished',
];

const jobs = {
  ok: { model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'Say hello', tenant_id: 'acme' },
  unknownModel: { model: 'not-a-claude-model', max_tokens: 20, prompt: 'Say hello', tenant_id: 'acme' },
};

interface Seen {
  event: EventName;
  /** The payload's fields, the record's fields and the outcome's kind: its shape, not its values. */
  fields: string[];
  recordFields: string[];
  outcome?: string;
}

/** Every lifecycle event of every job, in order, by job id. */
function recorder(source: EventSource): Map<string, Seen[]> {
  const byJob = new Map<string, Seen[]>();
  for (const event of lifecycle) {
    source.on(event, (e: { jobId: string; record?: object; outcome?: { kind: string } }) => {
      const list = byJob.get(e.jobId) ?? [];
      list.push({
        event,
        fields: Object.keys(e).sort(),
        recordFields: Object.keys(e.record ?? {}).sort(),
        ...(e.outcome ? { outcome: e.outcome.kind } : {}),
      });
      byJob.set(e.jobId, list);
    });
  }
  return byJob;
}

describe('a job finished through a batch emits the events of a live one', () => {
  let s: Stack;
  let dir: string;
  beforeAll(async () => {
    s = await startStack({ sim: { batches: { processingSeconds: 0.2 } } });
    dir = mkdtempSync(join(tmpdir(), 'promptq-routes-'));
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function live(): Promise<Record<keyof typeof jobs, Seen[]>> {
    const seen = recorder(s.svc.worker!);
    const run = async (body: object) => {
      const r = await post(`${s.url}/v1/jobs`, body);
      const id = r.body.id as string;
      await get(`${s.url}/v1/jobs/${id}?wait=20`);
      return id;
    };
    const ok = await run(jobs.ok);
    const failed = await run(jobs.unknownModel);
    return { ok: seen.get(ok) ?? [], unknownModel: seen.get(failed) ?? [] };
  }

  async function batch(): Promise<Record<keyof typeof jobs, Seen[]>> {
    const path = join(dir, 'jobs.jsonl');
    writeFileSync(
      path,
      `${JSON.stringify({ id: 'ok', ...jobs.ok })}\n${JSON.stringify({ id: 'bad', ...jobs.unknownModel })}\n`,
    );
    const redis = testRedis();
    const queue = new PromptQueue({ connection: redis, queue: uniqueQueue(), ...testSettings() });
    const events = new PromptqEvents();
    const seen = recorder(events);
    try {
      const summary = await runBatchFile(path, { simUrl: s.sim.url, redis, queue, events });
      expect(summary).toMatchObject({ succeeded: 1, errored: 1 });
      await events.idle();
      return { ok: seen.get('ok') ?? [], unknownModel: seen.get('bad') ?? [] };
    } finally {
      await queue.queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    }
  }

  it('completed and failed, event by event', async () => {
    const [viaWorker, viaBatch] = [await live(), await batch()];
    expect(viaWorker.ok.map((e) => e.event)).toEqual([
      'queued',
      'started',
      'attempt',
      'completed',
      'finished',
    ]);
    expect(viaWorker.unknownModel.map((e) => e.event)).toEqual([
      'queued',
      'started',
      'attempt',
      'failed',
      'finished',
    ]);
    expect(viaBatch.ok).toEqual(viaWorker.ok);
    expect(viaBatch.unknownModel).toEqual(viaWorker.unknownModel);
  });
});
