/**
 * A permit's second half: what happens when the API answers. The settle gives back what the call
 * did not use, feeds the input-token ratio, pauses the group on a 429/529 and learns the answer's
 * rate-limit headers (the shared limits) — all in one Lua step of {@link SharedLimiterState.settle}.
 */
import { type Resource, resources } from '../core/rate-limits.js';
import type { RateLimitSignals } from '../providers/provider.js';
import type { Costs, HeaderObservation, SharedLimiterState } from './shared-state.js';
import type { AccountQuotaPort, CallPlan, LimiterOptions, Permit } from './types.js';

/** What a permit needs of its limiter. */
export interface PermitContext {
  state: SharedLimiterState;
  options: LimiterOptions;
  /** Configured ceilings per resource (0: none). */
  ceilings: Record<Resource, number>;
  /** Drop the process's last read of the group's state (it paused: the next call reads afresh). */
  forget?: (key: string) => void;
}

/** One admitted call of `group`. */
export interface PermitCall {
  group: string;
  /** The group's Redis key. */
  key: string;
  plan: CallPlan;
  /** What admission charged. */
  costs: Costs;
  /** The discovery request (the group's limits were unknown). */
  discovery: boolean;
  /** Cache reads count toward ITPM on this model. */
  cacheReadsCount: boolean;
  /** Called when the API answered with cache writes or reads (the prefix is cached now). */
  onCached?: (() => void) | undefined;
  /** The tenant's share buckets of the group, charged with `costs`: refunded as the group is. */
  shareKey?: string | undefined;
  /** The tenant's per-minute quota, charged the plan's input estimate + `max_tokens`. */
  perMinute?: AccountQuotaPort | undefined;
}

/** Token remainders are rounded down to thousands: the true value may be up to 999 more. */
function remainingUpper(r: number | undefined, tokens: boolean): number | undefined {
  if (r === undefined) return undefined;
  return tokens && r % 1000 === 0 ? r + 999 : r;
}

/** What an answer's rate-limit signals announce (remainders at their upper end); none: undefined. */
function observation(
  ctx: PermitContext,
  group: string,
  snap: RateLimitSignals,
): HeaderObservation | undefined {
  if (Object.keys(snap).length === 0) return undefined;
  void ctx.options.events?.emit('limitSignals', { group, signals: snap });
  return {
    limits: {
      requests: snap.requests?.limit,
      input_tokens: snap.input_tokens?.limit,
      output_tokens: snap.output_tokens?.limit,
    },
    remaining: {
      requests: remainingUpper(snap.requests?.remaining, false),
      input_tokens: remainingUpper(snap.input_tokens?.remaining, true),
      output_tokens: remainingUpper(snap.output_tokens?.remaining, true),
    },
    ceilings: ctx.ceilings,
  };
}

/** Report the limits that changed (a discovery, or the API announcing other ones). */
function reportLimits(
  ctx: PermitContext,
  group: string,
  key: string,
  observation: HeaderObservation,
  before: Partial<Record<Resource, number>>,
): void {
  const now: Partial<Record<Resource, number>> = {};
  let changed = false;
  for (const r of resources) {
    const l = observation.limits[r];
    if (l === undefined) continue;
    const effective = ctx.ceilings[r] > 0 ? Math.min(l, ctx.ceilings[r]) : l;
    now[r] = effective;
    if (before[r] !== effective) changed = true;
  }
  if (changed) {
    ctx.forget?.(key);
    void ctx.options.events?.emit('groupLimits', {
      group,
      limits: now,
      before,
    });
  }
}

/** Store the limits and remainders an answer's signals announce (a script of its own); report what changed. */
async function observeLimitSignals(
  ctx: PermitContext,
  group: string,
  key: string,
  signals: RateLimitSignals,
): Promise<void> {
  const seen = observation(ctx, group, signals);
  if (!seen) return;
  const before = await ctx.state.observe(key, seen.limits, seen.remaining, seen.ceilings);
  reportLimits(ctx, group, key, seen, before);
}

/**
 * The permit of an admitted call. Its answer's headers are learned in the settle's script (one
 * round trip per call), except the discovery request's, learned as they arrive (they end the
 * discovery for every waiting call), and those of a call still running `headersEarlyMs` after them.
 */
export function createPermit(ctx: PermitContext, call: PermitCall): Permit {
  const { group, key, plan, costs, discovery, cacheReadsCount } = call;
  let headersSeen: Promise<void> | undefined;
  let arrived: RateLimitSignals | undefined;
  let early: NodeJS.Timeout | undefined;
  let settled = false;
  const observe = (signals: RateLimitSignals) => {
    clearTimeout(early);
    headersSeen ??= observeLimitSignals(ctx, group, key, signals).catch(() => {});
    return headersSeen;
  };
  return {
    observeSignals: (signals) => {
      if (settled || headersSeen || arrived) return;
      if (discovery) {
        void observe(signals);
        return;
      }
      arrived = signals;
      early = setTimeout(() => void observe(signals), ctx.state.tuning.headersEarlyMs);
      early.unref?.();
    },
    settle: async (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(early);
      const pausing = result.outcome === 'rate_limited' || result.outcome === 'overloaded';
      // Headers learned on their own already: as before, first on success (on a 429/529 the pause
      // goes first, so that the discovery request's end cannot let another request slip in before it).
      if (headersSeen && !pausing) await headersSeen;
      const signals = result.signals ?? arrived;
      const merged = signals && !headersSeen ? observation(ctx, group, signals) : undefined;
      const ok = result.outcome === 'success';
      const outcome: 'success' | 'rate_limited' | 'overloaded' | 'other' =
        result.outcome === 'success' || result.outcome === 'rate_limited' || result.outcome === 'overloaded'
          ? result.outcome
          : 'other';
      const written = result.cacheCreationInputTokens ?? 0;
      const read = result.cacheReadInputTokens ?? 0;
      const billedIn =
        result.inputTokens === undefined
          ? undefined
          : result.inputTokens + written + (cacheReadsCount ? read : 0);
      const refundIn = ok && billedIn !== undefined ? costs.input_tokens - billedIn : 0;
      // A failed call produced no output: give all of max_tokens back.
      const refundOut =
        ok && result.outputTokens !== undefined
          ? costs.output_tokens - result.outputTokens
          : costs.output_tokens;
      // The estimate covers the whole prompt: compare it with all of the prompt's tokens.
      const sample =
        ok && result.inputTokens !== undefined && plan.inputTokens > 0
          ? (result.inputTokens + written + read) / plan.inputTokens
          : null;
      if (ok && written + read > 0) call.onCached?.();
      // Did the API's answer carry rate-limit headers? (null: there was no answer.)
      const rateHeaders = result.signals ? Object.keys(result.signals).length > 0 : null;
      const giveIn = outcome === 'rate_limited' ? 0 : refundIn;
      const giveOut = outcome === 'rate_limited' ? 0 : refundOut;
      // The tenant's quotas get back what the group gets back (its per-minute quota counted the
      // whole prompt's estimate, so it is refunded against all of the prompt's real tokens).
      const quotaIn =
        ok && result.inputTokens !== undefined ? plan.inputTokens - (result.inputTokens + written + read) : 0;
      const [{ pausedUntil, factor, limitsBefore }] = await Promise.all([
        ctx.state.settle(key, {
          outcome,
          refundInputTokens: giveIn,
          refundOutputTokens: giveOut,
          retryAfterMs: result.retryAfterMs,
          inRatioSample: sample,
          headersSeen: rateHeaders,
          discovery,
          headers: merged,
        }),
        call.shareKey === undefined ? undefined : ctx.state.refundShare(call.shareKey, giveIn, giveOut),
        outcome === 'rate_limited' ? undefined : call.perMinute?.giveBack(0, quotaIn + refundOut),
      ]);
      if (merged) reportLimits(ctx, group, key, merged, limitsBefore ?? {});
      await ctx.options.events?.emit('groupPace', { group, factor });
      if (pausing) {
        ctx.forget?.(key);
        const pauseMs = pausedUntil - Date.now();
        const reason = outcome as 'rate_limited' | 'overloaded';
        if (pauseMs > 0) await ctx.options.events?.emit('groupPaused', { group, reason, pauseMs });
      }
    },
  };
}
