/**
 * Tenant fairness, done where BullMQ decides the order: the job's priority. Each tenant's pending
 * jobs get ranks 0, 1, 2, … (a counter per tenant in Redis, incremented at enqueue and decremented
 * when a job finishes: store/tenant-pending.ts), and the BullMQ priority is
 * `userPriority × 2048 + min(rank, 2047)`. Within a user priority, the queue therefore serves
 * tenants round robin — the first job of every tenant, then the second of every tenant, … — so one
 * tenant's 100k-job backfill cannot starve another tenant's 20 interactive jobs, and explicit
 * priorities still come first.
 *
 * A job removed by hand (or failed by BullMQ without reaching the worker) is never counted down;
 * the counter only drifts towards "this tenant has more pending", which costs that tenant position,
 * never another tenant's, and it expires a day after the tenant's last enqueue.
 */
/** Ranks beyond this share the last slot (FIFO among themselves). */
export const rankSlots = 2048;
/** Largest user priority, so that the combined value (× {@link rankSlots}) fits BullMQ's 2^21. */
export const maxUserPriority = 1000;
/** A tenant's pending counter lives this long after its last enqueue. */
export const pendingTtlSeconds = 24 * 3600;

/** The BullMQ priority for a user priority and a tenant rank. */
export function combinedPriority(userPriority: number, rank: number): number {
  return userPriority * rankSlots + Math.min(Math.max(0, rank), rankSlots - 1);
}

/** The fairness lane of a request. */
export function tenantOf(request: { tenant_id?: string }): string {
  return request.tenant_id ?? '';
}
