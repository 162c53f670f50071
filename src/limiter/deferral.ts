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
  quotaBackAt: Map<string, number>;
}

/**
 * The deferral decision before asking Redis (with `mayDefer`): the group is paused past `holdMs`,
 * or this process's calls already waiting for it fill `holdMs` and this call's priority beats
 * none of theirs.
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
  const room = interval === null ? Number.POSITIVE_INFINITY : Math.max(1, Math.ceil(hold / interval));
  if (interval === null || parked.length < room || parked.some((p) => p > priority)) return undefined;
  // Past maxDeferMs the cursor starts over (still spaced): the interval may shrink meanwhile.
  const first = now + Math.max(hold, parked.length * interval);
  local.nextBackAt = Math.max(local.nextBackAt, first);
  if (local.nextBackAt > now + tuning.maxDeferMs) local.nextBackAt = first;
  const untilMs = local.nextBackAt;
  local.nextBackAt += interval;
  return deferral(untilMs, 'queued');
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
