/**
 * Batches a killed submitter left behind: it wrote an intent (store/batch-store.ts), asked the API,
 * and died before saving the answer. The batch the API created then (not known to promptq, created
 * within minutes of the intent, with as many requests) is taken as that one. Used by the backfill's
 * Batches mode (batch-run.ts) and by the batch collector (batches/collector.ts), each for its own
 * intents.
 */
import type { Batches, BatchInfo } from '../../providers/provider.js';
import { type BatchIntent, knownBatchIds } from '../../store/batch-store.js';
import type { RedisConnection as Redis } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';

/** How many requests a batch holds. */
export function requestsIn(batch: BatchInfo): number {
  const c = batch.counts;
  return c.processing + c.succeeded + c.errored + c.expired + c.canceled;
}

/** Each intent with the batch the API made for it, or `undefined` when it made none. */
export async function orphansOf(
  api: Batches,
  redis: Redis,
  keys: Keyspace,
  intents: readonly BatchIntent[],
): Promise<Array<{ intent: BatchIntent; batch: BatchInfo | undefined }>> {
  if (intents.length === 0) return [];
  const known = await knownBatchIds(redis, keys);
  const skewMs = 60_000;
  const oldest = Math.min(...intents.map((i) => i.at)) - skewMs;
  const candidates: BatchInfo[] = [];
  for await (const b of api.list()) {
    if (Date.parse(b.createdAt) < oldest) break;
    if (!known.has(b.id)) candidates.push(b);
  }
  return intents.map((intent) => {
    const i = candidates.findIndex((b) => {
      const at = Date.parse(b.createdAt);
      return requestsIn(b) === intent.ids.length && at >= intent.at - skewMs && at <= intent.at + 10 * skewMs;
    });
    const batch = candidates[i];
    if (batch !== undefined) candidates.splice(i, 1);
    return { intent, batch };
  });
}
