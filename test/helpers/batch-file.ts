/**
 * A file of jobs through the Message Batches route (`BatchRun`) against the simulator, as the
 * backfill's `--via batches` runs it: no tenant, no retry, fast polling, a day's retention.
 */
import Anthropic from '@anthropic-ai/sdk';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import type { PromptqEvents } from '../../src/events/emitter.js';
import { BatchRun } from '../../src/producer/backfill/batch-run.js';
import type { PromptQueue } from '../../src/producer/queue.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { AnthropicProvider } from '../../src/providers/anthropic/provider.js';
import type { RedisConnection } from '../../src/store/connection.js';

export function runBatchFile(
  path: string,
  o: { simUrl: string; redis: RedisConnection; queue: PromptQueue; events?: PromptqEvents },
) {
  const client = new Anthropic({ apiKey: 'k', baseURL: o.simUrl, maxRetries: 0 });
  return new BatchRun(
    path,
    { tenant: undefined, priority: 500, idPrefix: '', limits: defaultJobLimits },
    {
      provider: new AnthropicProvider({ client }),
      redis: o.redis,
      queue: o.queue,
      prices: new PriceTable(),
      retry: 'none',
      poll: { minMs: 100, maxMs: 300 },
      keepCompletedSeconds: 3600,
      keepFailedSeconds: 3600,
      ...(o.events ? { events: o.events } : {}),
    },
  ).run();
}
