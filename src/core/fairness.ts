/**
 * Tenant fairness, done where BullMQ decides the order: the job's priority. Each tenant's pending
 * jobs get ranks 0, 1, 2, … (a counter per tenant in Redis, incremented at enqueue and decremented
 * when a job finishes), and the BullMQ priority is `userPriority × 2048 + min(rank, 2047)`. Within a
 * user priority, the queue therefore serves tenants round robin — the first job of every tenant,
 * then the second of every tenant, … — so one tenant's 100k-job backfill cannot starve another
 * tenant's 20 interactive jobs, and explicit priorities still come first.
 *
 * A job removed by hand (or failed by BullMQ without reaching the worker) is never counted down;
 * the counter only drifts towards "this tenant has more pending", which costs that tenant position,
 * never another tenant's, and it expires a day after the tenant's last enqueue.
 */
import type { Redis } from 'ioredis';

/** Ranks beyond this share the last slot (FIFO among themselves). */
export const rankSlots = 2048;
/** Largest user priority, so that the combined value fits BullMQ's 2^21. */
export const maxUserPriority = 1000;

const ttlSeconds = 24 * 3600;

export function pendingKey(prefix: string, queue: string): string {
  return `${prefix}:${queue}:promptq:tenant-pending`;
}

/** The BullMQ priority for a user priority and a tenant rank. */
export function combinedPriority(userPriority: number, rank: number): number {
  return userPriority * rankSlots + Math.min(Math.max(0, rank), rankSlots - 1);
}

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
  pipe.expire(key, ttlSeconds);
  const res = (await pipe.exec()) ?? [];
  const first = new Map<string, number>();
  tenants.forEach((t, i) => {
    const total = Number(res[i]?.[1] ?? 0);
    first.set(t, total - (counts.get(t) ?? 0));
  });
  return first;
}

/**
 * KEYS[1] the pending hash, ARGV[1] tenant. Counts one job down, never below zero.
 */
const doneLua = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
`;

/** A tenant's job finished: its later jobs move up. */
export async function tenantJobDone(redis: Redis, key: string, tenant: string): Promise<void> {
  const r = redis as Redis & { promptqTenantDone(key: string, tenant: string): Promise<number> };
  if (typeof r.promptqTenantDone !== 'function') {
    redis.defineCommand('promptqTenantDone', { numberOfKeys: 1, lua: doneLua });
  }
  await r.promptqTenantDone(key, tenant);
}

/** The fairness lane of a request. */
export function tenantOf(request: { tenant_id?: string }): string {
  return request.tenant_id ?? '';
}
