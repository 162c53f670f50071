/**
 * When a call is handed back instead of waiting (`mayDefer`): the deferral decisions of
 * {@link RateLimiter.acquire} (limiter.ts), as functions of the group's state and this process's
 * line for it (docs/limiter.md, "No head-of-line blocking").
 */
import { type Resource, resources } from '../core/rate-limits.js';
import type { LimiterTuning } from '../core/settings.js';
import type { Costs, GroupState } from './shared-state.js';
import type { AccountQuotaPort, Deferral, QuotaResource } from './types.js';

export const abortError = (signal: AbortSignal) => signal.reason ?? new Error('aborted');

/**
 * Per group, this process's: the priorities of its calls waiting for the group (looking or in the
 * gate) and how many are in the gate, when its next call deferred for the group's line should come
 * back, and per tenant over its share the same.
 */
export interface LocalGroup {
  parked: number[];
  gated: number;
  nextBackAt: number;
  /** When its next call handed back for a far permit comes back ({@link spacedDeferral}). */
  pacedBackAt: number;
  quotaBackAt: Map<string, number>;
}

/**
 * The deferral decision before asking Redis (with `mayDefer`): the group is paused past `holdMs`,
 * or this process's calls already waiting for it fill what the group's buckets hold now plus
 * `holdMs` of refill, and this call's priority beats none of theirs.
 */
export function earlyDeferral(
  groupState: GroupState,
  costs: Costs,
  local: LocalGroup,
  priority: number,
  tuning: LimiterTuning,
): Deferral | undefined {
  const hold = tuning.holdMs;
  const parked = local.parked;
  const now = Date.now();
  if (groupState.pausedUntil - now > hold) return deferral(groupState.pausedUntil, 'paused');
  // Calls of this process already waiting for the group, one call's interval apart. (While
  // the limits are unknown every call waits: the discovery request's answer usually comes within
  // one call.) A learned limit (no headers) is still being raised step by step: its interval says
  // little about the next seconds, so its calls wait as in discovery.
  const interval = groupState.learned ? null : callIntervalMs(groupState, costs, tuning.target);
  // The calls the buckets hold now go at once: a call the API gives back at its answer (a 404 for
  // a model it has not) leaves them full, and a group with room is never a reason to hand back.
  const inBuckets = callsInBuckets(groupState, costs, tuning);
  const room =
    interval === null ? Number.POSITIVE_INFINITY : inBuckets + Math.max(1, Math.ceil(hold / interval));
  if (interval === null || parked.length < room || parked.some((p) => p > priority)) return undefined;
  // Each deferred call comes back at its place in line, so it is taken about once more, not every
  // few seconds while the line lasts. Past maxDeferMs (a minute) the cursor starts over (still
  // spaced): the interval may shrink meanwhile.
  const first = now + Math.max(hold, (parked.length - inBuckets) * interval);
  local.nextBackAt = Math.max(local.nextBackAt, first);
  if (local.nextBackAt > now + tuning.maxDeferMs) local.nextBackAt = first;
  const untilMs = local.nextBackAt;
  local.nextBackAt += interval;
  return deferral(untilMs, 'queued');
}

/**
 * A call handed back because its group is paused or its buckets are short (`untilMs`: when they
 * have room): back then, and this process's next call handed back for the group one
 * `spacing` later, in this process's line of such calls for the group (`pacedBackAt`; apart
 * from {@link earlyDeferral}'s line, whose calls come back a whole interval apart); past `maxDeferMs` ahead the line starts over at `untilMs`. So a group's
 * waiting calls come back about as fast as it can take them, each looking once: the looks are
 * O(permits), not one per waiting call at every instant the group has room (22022:340: 37,488
 * hand-backs for 40 permits).
 */
export function spacedDeferral(
  tuning: LimiterTuning,
  local: LocalGroup,
  groupState: GroupState,
  costs: Costs,
  untilMs: number,
  reason: 'paused' | 'pacing',
): Deferral {
  const now = Date.now();
  const spacing = handBackSpacingMs(groupState, costs, tuning);
  if (spacing === null) return deferral(untilMs, reason);
  let at = Math.max(untilMs, local.pacedBackAt);
  if (at > Math.max(untilMs, now + tuning.maxDeferMs)) at = untilMs;
  local.pacedBackAt = at + spacing;
  return deferral(at, reason);
}

/**
 * How far apart a process's hand-backs for a group come back: a quarter of a call's interval at a
 * learned (header-less) limit, which is in slow start and may double within a second; `null`
 * (unspaced, back when the buckets have room) otherwise. Under announced limits the interval is
 * the charge's, and answers give back much of it (`max_tokens` less the output): spaced by it, the
 * lab's otpm-low-tier fell from 0.833 to 0.629 of the ideal.
 */
export function handBackSpacingMs(
  groupState: GroupState,
  costs: Costs,
  tuning: LimiterTuning,
): number | null {
  if (!groupState.learned) return null;
  const interval = callIntervalMs(groupState, costs, tuning.target);
  return interval === null ? null : interval / 4;
}

/**
 * A call over its tenant's share: back when the share has room, and the tenant's next deferred
 * call one of the tenant's intervals later (at most `maxDeferMs` ahead, then the line starts
 * over), so a tenant's many waiting jobs do not all come back at once to be handed back again.
 */
export function quotaDeferral(
  tuning: LimiterTuning,
  local: LocalGroup,
  tenantId: string,
  groupState: GroupState,
  costs: Costs,
  share: number,
  waitMs: number,
  resource: Resource | undefined,
): Deferral {
  const now = Date.now();
  let untilMs = now + waitMs;
  const interval = callIntervalMs(groupState, costs, tuning.target);
  if (interval !== null) {
    untilMs = Math.max(untilMs, local.quotaBackAt.get(tenantId) ?? 0);
    if (untilMs > now + Math.max(waitMs, tuning.maxDeferMs)) untilMs = now + waitMs;
    local.quotaBackAt.set(tenantId, untilMs + interval / share);
  }
  return deferral(untilMs, 'quota', quotaResource(resource));
}

/**
 * The tenant's per-minute quota lives in another slot: counted first, before the group's turn. Over
 * it, a deferral with `mayDefer`, else a wait.
 */
export async function takePerMinute(
  perMinute: AccountQuotaPort,
  tokens: number,
  mayDefer: boolean,
  signal: AbortSignal | undefined,
): Promise<Deferral | undefined> {
  for (;;) {
    const taken = await perMinute.take(tokens);
    if (taken.waitMs <= 0) return undefined;
    if (mayDefer) return deferral(Date.now() + taken.waitMs, 'quota', taken.resource);
    await sleep(Math.min(taken.waitMs, 1000), signal);
  }
}

export function deferral(untilMs: number, reason: Deferral['reason'], resource?: QuotaResource): Deferral {
  return resource === undefined
    ? { deferred: true, untilMs, reason }
    : { deferred: true, untilMs, reason, resource };
}

/** The share bucket the admission found short → what the tenant ran short of. */
function quotaResource(r: Resource | undefined): QuotaResource {
  return r === 'requests' ? 'requests' : 'tokens';
}

/**
 * Milliseconds between two calls like this one at the group's pace (the slowest of its known
 * limits); `null` while no limit is known.
 */
export function callIntervalMs(groupState: GroupState, costs: Costs, target: number): number | null {
  let ms: number | null = null;
  for (const r of resources) {
    const limit = groupState.limits[r];
    if (limit) ms = Math.max(ms ?? 0, (costs[r] * 60_000) / (limit * groupState.factor * target));
  }
  return ms;
}

/**
 * How many calls like this one the group's buckets held at the last read, less the reserve
 * admission keeps (store/lua/limiter-admit-2.lua); refill since then not counted.
 */
export function callsInBuckets(groupState: GroupState, costs: Costs, tuning: LimiterTuning): number {
  let calls = Number.POSITIVE_INFINITY;
  for (const r of resources) {
    const limit = groupState.limits[r];
    if (!limit) continue;
    const reserve = ((limit * groupState.factor * tuning.target) / 60_000) * tuning.reserveMs;
    const level = groupState.levels[r] ?? 0;
    calls = Math.min(calls, Math.floor((level - reserve) / Math.max(costs[r], 1)));
  }
  return Number.isFinite(calls) ? Math.max(0, calls) : 0;
}

/** Wait `ms`, or reject when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
