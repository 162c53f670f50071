/**
 * One source of events: a job finished through the Message Batches API fires the same webhook
 * (`job.completed` / `job.failed`, signed, the job view as data) and records the same state changes
 * for event streams as a live job does.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromptqEvents } from '../../src/events/emitter.js';
import { subscribeJobNotifications } from '../../src/ops/webhooks/webhooks.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { runBatchFile } from '../helpers/batch-file.js';
import { post } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';
import {
  newSecret,
  type Receiver,
  startReceiver,
  startWebhookStack,
  until,
  type WebhookStack,
} from './webhook-helpers.js';

const secret = newSecret();

describe('a job finished through a batch fires the webhook and stream events of a live one', () => {
  let stack: WebhookStack;
  let receiver: Receiver;
  let dir: string;
  beforeAll(async () => {
    receiver = await startReceiver(() => 200);
    stack = await startWebhookStack(
      { PROMPTQ_WEBHOOK_SECRET: secret, PROMPTQ_WEBHOOK_ALLOW_PRIVATE: 'true' },
      undefined,
      undefined,
      { batches: { processingSeconds: 0.2 } },
    );
    dir = mkdtempSync(join(tmpdir(), 'promptq-batch-webhooks-'));
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('job.completed and job.failed, signed; queued, started, completed recorded', async () => {
    const hook = { url: receiver.url };
    const ok = { model: 'claude-haiku-4-5', max_tokens: 16, prompt: 'hello', webhook: hook };
    const bad = { model: 'not-a-claude-model', max_tokens: 16, prompt: 'hello', webhook: hook };
    // The control: the same job run live.
    expect((await post(`${stack.url}/v1/jobs`, { id: 'live-ok', ...ok })).status).toBe(202);
    const path = join(dir, 'jobs.jsonl');
    writeFileSync(
      path,
      `${JSON.stringify({ id: 'b-ok', ...ok })}\n${JSON.stringify({ id: 'b-bad', ...bad })}\n`,
    );
    const redis = testRedis();
    const queue = new PromptQueue({ connection: redis, queue: stack.config.queue, ...testSettings() });
    const events = new PromptqEvents();
    const notifications = subscribeJobNotifications(events, {
      connection: redis,
      keys: queue.keys,
      config: stack.config,
    });
    try {
      const summary = await runBatchFile(path, { simUrl: stack.sim.url, redis, queue, events });
      expect(summary).toMatchObject({ succeeded: 1, errored: 1 });
      await events.idle();
    } finally {
      await notifications.close();
    }
    const byJob = (id: string) =>
      receiver.received.filter((r) => (JSON.parse(r.body) as { data: { id: string } }).data.id === id);
    await until(() => (['live-ok', 'b-ok', 'b-bad'].every((id) => byJob(id).length > 0) ? true : undefined));
    const wh = new Webhook(secret);
    const payload = (id: string) =>
      wh.verify(byJob(id)[0]!.body, byJob(id)[0]!.headers) as {
        type: string;
        data: { state: string; record: { cost: { batch: boolean } }; result: unknown };
      };
    expect(payload('b-ok')).toMatchObject({
      type: 'job.completed',
      data: { state: 'completed', record: { cost: { batch: true } } },
    });
    expect(payload('live-ok')).toMatchObject({
      type: 'job.completed',
      data: { state: 'completed', record: { cost: { batch: false } } },
    });
    expect(payload('b-bad')).toMatchObject({ type: 'job.failed', data: { state: 'failed' } });
    // The same state changes for event streams as the live job.
    const names = async (id: string) =>
      ((await redis.xrange(queue.keys.jobEvents(id, undefined), '-', '+')) as Array<[string, string[]]>)
        .map(([, f]) => f[1])
        .filter((n) => ['queued', 'started', 'retrying', 'completed', 'failed'].includes(n!));
    expect(await names('live-ok')).toEqual(['queued', 'started', 'completed']);
    expect(await names('b-ok')).toEqual(await names('live-ok'));
    expect(await names('b-bad')).toEqual(['queued', 'started', 'failed']);
    await queue.close();
    redis.disconnect();
  });
});
