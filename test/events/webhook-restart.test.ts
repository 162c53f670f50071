/**
 * A restart loses no delivery: `promptq worker` is killed (SIGKILL) while its delivery waits for
 * the receiver's answer; a new process delivers it, under the same `webhook-id`, signed.
 */
import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { reap, startWorker } from '../chaos/helpers.js';
import type { CliProcess } from '../helpers/cli.js';
import { testApiKey, uniqueQueue } from '../helpers/stack.js';
import { redisEnv, testSettings } from '../helpers/topology.js';
import { newSecret, type Receiver, startReceiver, until } from './webhook-helpers.js';

describe('webhooks: a killed process loses no delivery', () => {
  const procs: CliProcess[] = [];
  let sim: Simulator | undefined;
  let q: PromptQueue | undefined;
  let receiver: Receiver | undefined;
  const held: ServerResponse[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) await reap(p);
    for (const res of held) res.destroy();
    await q?.close();
    await receiver?.close();
    await sim?.close();
  });

  it('delivery resumes after the process that held it is killed', async () => {
    sim = await startSimulator({ seed: 3 });
    const secret = newSecret();
    const queue = uniqueQueue();
    // The first delivery attempt is held unanswered (the process dies with it); later ones are 200.
    receiver = await startReceiver((_req, _body, res) => {
      if (receiver!.received.length === 0) {
        held.push(res);
        return null;
      }
      return 200;
    });
    const env = {
      ...redisEnv(),
      PROMPTQ_QUEUE: queue,
      ANTHROPIC_API_KEY: testApiKey,
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_WEBHOOK_SECRET: secret,
      PROMPTQ_WEBHOOK_ALLOW_PRIVATE: 'true',
      // Short locks: a dead process's delivery is taken over in seconds.
      PROMPTQ_LOCK_DURATION_MS: '2000',
      PROMPTQ_STALLED_INTERVAL_MS: '1000',
    };
    const a = await startWorker(env);
    procs.push(a);
    q = new PromptQueue({ queue, ...testSettings(), webhooks: { allowPrivate: true } });
    await q.add({
      id: 'kill-1',
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      prompt: 'hi',
      webhook: { url: receiver.url },
    });
    await until(() => receiver!.received.length >= 1 || undefined);
    a.proc.kill('SIGKILL');
    await a.exited;
    const b = await startWorker(env);
    procs.push(b);
    const delivered = await until(() => receiver!.received.find((r) => r.status === 200), 30_000);
    const first = receiver.received[0]!;
    expect(delivered.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(delivered.body).toBe(first.body);
    const payload = new Webhook(secret).verify(delivered.body, delivered.headers) as {
      type: string;
      data: { id: string };
    };
    expect(payload).toMatchObject({ type: 'job.completed', data: { id: 'kill-1' } });
  }, 60_000);
});
