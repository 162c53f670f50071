/**
 * The per-tenant pending counters behind fairness (core/fairness.ts explains the ranks), and the
 * idempotent claim of job ids that counts a job exactly when it is added.
 */

import { pendingTtlSeconds } from '../core/fairness.js';
import type { RedisConnection as Redis } from './connection.js';
import { bullJobId, type Keyspace } from './keys.js';
import { variadicScript } from './scripts.js';

const claimJobsScript = variadicScript('claim-jobs-N.lua', (r) => (r as unknown[]).map(Number));

/**
 * Reserve ranks for `counts` new jobs per tenant; returns each tenant's first rank.
 * One round trip whatever the number of tenants.
 */
export async function reserveRanks(
  redis: Redis,
  key: string,
  counts: Map<string, number>,
): Promise<Map<string, number>> {
  const tenants = [...counts.keys()];
  const pipe = redis.pipeline();
  for (const t of tenants) pipe.hincrby(key, t, counts.get(t) ?? 0);
  pipe.expire(key, pendingTtlSeconds);
  const res = (await pipe.exec()) ?? [];
  const first = new Map<string, number>();
  tenants.forEach((t, i) => {
    const total = Number(res[i]?.[1] ?? 0);
    first.set(t, total - (counts.get(t) ?? 0));
  });
  return first;
}

/** What {@link claimJobs} says about one job. */
export type Claim =
  /** This call adds the job, at this fairness rank (already counted). */
  | { kind: 'claimed'; rank: number }
  /** The job exists. */
  | { kind: 'exists' }
  /** Another submitter is adding the same id right now. */
  | { kind: 'busy' };

/**
 * Claim job ids and count each claimed job in its tenant's pending jobs, in one atomic step
 * (lua/claim-jobs-N.lua); ids generated for this call (`fresh`) are counted without a claim. All keys are the queue's, so one slot when hash-tagged.
 */
export async function claimJobs(
  redis: Redis,
  keys: Keyspace,
  jobs: ReadonlyArray<{ id: string; tenant: string; fresh?: boolean }>,
  claimTtlMs: number,
): Promise<Claim[]> {
  if (jobs.length === 0) return [];
  const scriptKeys = [keys.tenantPending];
  // Jobs by the caller's id: the claim key as given, the job hash under its BullMQ id.
  for (const job of jobs) scriptKeys.push(keys.job(bullJobId(job.id)), keys.claim(job.id));
  // A `fresh` id was generated for this call: nobody else can hold it, so it needs no claim.
  const fresh = jobs.map((j) => (j.fresh ? '1' : '0'));
  const res = await claimJobsScript(redis, scriptKeys, [
    claimTtlMs,
    pendingTtlSeconds,
    ...jobs.map((j) => j.tenant),
    ...fresh,
  ]);
  return res.map((n) => {
    if (n >= 0) return { kind: 'claimed', rank: n };
    return n === -1 ? { kind: 'exists' } : { kind: 'busy' };
  });
}
