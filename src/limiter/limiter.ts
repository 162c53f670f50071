/**
 * The adaptive limiter in the call path. Every API attempt acquires a permit before it is sent and
 * settles it with what the API answered:
 *
 * - **Header-driven pacing.** Limits are discovered from `anthropic-ratelimit-*` headers (one
 *   discovery request per model group until the first headers arrive; no configuration needed). Each resource
 *   (requests, input tokens, output tokens) is a token bucket refilled at limit/60 s, with a capacity
 *   of about one second of refill, so requests are spread evenly and no burst of a minute's
 *   allowance is ever sent (Anthropic may enforce per-minute limits over shorter intervals).
 * - **Token-aware admission.** A request costs 1 request, its estimated input tokens (corrected by
 *   the observed ratio of real to estimated tokens) and `max_tokens` output tokens; the difference
 *   to the real usage is given back when it finishes.
 * - **Shared.** The buckets live in Redis ({@link SharedLimiterState}, atomic Lua), so every worker
 *   process using the same API key draws from one allowance.
 * - **Backoff.** A 429 pauses the whole group until `retry-after`, lowers the pace
 *   (multiplicative decrease) and the burst size; successes recover both additively. A 529 pauses
 *   the group with jittered exponential backoff.
 *
 * Bottleneck orders the waiting requests of a process (by priority) and lets one at a time ask Redis
 * for admission, so a process never hammers Redis while it waits. A call that arrives while none of
 * its process's calls wait in the group's gate asks once without it: with room it goes at once
 * (nobody to be ordered against, and no gate turns: Bottleneck's scheduling costs a few event-loop
 * turns per call, which capped a process at a few hundred admissions a second); without room it
 * joins the gate.
 */
import Bottleneck from 'bottleneck';
import { modelGroup } from '../core/models.js';
import type { Resource } from '../core/rate-limits.js';
import { CacheOrder, type CacheState, type PrefixCharge, prefixCharge, prefixId } from './cache-order.js';
import {
  abortError,
  earlyDeferral,
  type LocalGroup,
  quotaDeferral,
  sleep,
  spacedDeferral,
  takePerMinute,
} from './deferral.js';
import { AccountPeers } from './peers.js';
import { createPermit, type PermitContext } from './permit.js';
import {
  type AdmitResult,
  type Costs,
  type GroupState,
  type ShareBuckets,
  SharedLimiterState,
} from './shared-state.js';
import type { AcquireOptions, CallPlan, Deferral, LimiterOptions, Permit } from './types.js';

function bottleneckPriority(priority: number | undefined): number {
  if (priority === undefined) return 5;
  if (priority <= 10) return 2;
  if (priority <= 100) return 5;
  return 8;
}

export class RateLimiter {
  readonly #options: LimiterOptions;
  readonly #state: SharedLimiterState;
  readonly #gates = new Map<string, Bottleneck>();
  readonly #cache: CacheOrder;
  /** The worker processes drawing on this account ({@link requestShare}). */
  readonly #peers: AccountPeers;
  /** Per group: running means of what this process's successful calls cost of the token limits ({@link requestRate}). */
  readonly #callCosts = new Map<string, CallCosts>();
  /**
   * Per group: the priorities of this process's calls waiting for it, and when the next call
   * this process defers should come back (spaced one call's interval apart, so deferred jobs
   * return about when the group can take them instead of all at once); {@link LocalGroup}.
   */
  readonly #local = new Map<string, LocalGroup>();
  /** When each group last asked for a permit (ms): idle groups are dropped. */
  readonly #lastUsed = new Map<string, number>();
  readonly #ceilings: Record<Resource, number>;
  readonly #permits: PermitContext;
  /** The last read of each group's state (see `stateReadMs`). */
  readonly #reads = new Map<string, { at: number; state: Promise<GroupState> }>();
  #closed = false;

  constructor(opts: LimiterOptions) {
    this.#options = opts;
    this.#state = new SharedLimiterState(opts.redis, opts.config.tuning);
    const { rpm, itpm, otpm } = opts.config.ceilings;
    this.#ceilings = { requests: rpm, input_tokens: itpm, output_tokens: otpm };
    this.#cache = new CacheOrder(opts.redis, () => this.#state.tuning);
    this.#peers = new AccountPeers(opts.redis, opts.keys.limiterPeers(opts.account));
    this.#permits = {
      state: this.#state,
      options: opts,
      ceilings: this.#ceilings,
      forget: (key) => this.#reads.delete(key),
    };
  }

  /** The Redis key of a model group's shared state. */
  key(group: string): string {
    return this.#options.keys.limiterGroup(this.#options.account, group);
  }

  /** The Redis key of a tenant's share buckets of a model group (under the group's hash tag). */
  shareKey(group: string, tenantId: string): string {
    return this.#options.keys.limiterShare(this.#options.account, group, tenantId);
  }

  get state(): SharedLimiterState {
    return this.#state;
  }

  #gate(group: string): Bottleneck {
    let g = this.#gates.get(group);
    if (!g) {
      g = new Bottleneck({ maxConcurrent: 1 });
      this.#gates.set(group, g);
    }
    this.#lastUsed.set(group, Date.now());
    return g;
  }

  /**
   * Forget groups this process has not used for `config.idleGroupMs` and has nothing waiting in:
   * their gates leave memory and {@link requestRate} stops reading them.
   */
  #dropIdleGroups(now = Date.now()): void {
    for (const [group, g] of this.#gates) {
      const c = g.counts();
      const busy = c.RECEIVED + c.QUEUED + c.RUNNING + c.EXECUTING > 0;
      if (!busy && now - (this.#lastUsed.get(group) ?? 0) > this.#options.config.idleGroupMs) {
        this.#gates.delete(group);
        this.#reads.delete(this.key(group));
        this.#lastUsed.delete(group);
        this.#local.delete(group);
      }
    }
  }

  /** Groups this process holds a gate for (tests). */
  get groupsInUse(): number {
    return this.#gates.size;
  }

  /**
   * Wait until the shared buckets admit this call, then hand out a permit. With `mayDefer`, answer
   * with a {@link Deferral} when the permit is further away than `holdMs`: the group is paused, its
   * next permit is that far, or this process already has `holdMs` worth of calls waiting for it
   * (unless this call's priority beats one of theirs).
   *
   * A call with a cacheable prompt prefix first takes its turn in the prefix's order across
   * processes ({@link CacheOrder}): while another call writes the prefix, it waits for that answer
   * to begin (at most `cacheWriteWaitMs`) and is then charged as a read.
   *
   * A call with a tenant quota ({@link CallPlan.quota}) is also charged to it: the per-minute quota
   * first (given back if the call is then not admitted), the share of the group's limits in the same
   * Lua step as the group's buckets. Over its quota, the call is deferred (reason `quota`) at once
   * with `mayDefer` — it holds no gate and no worker slot — else it waits.
   */
  async acquire(plan: CallPlan, signal?: AbortSignal): Promise<Permit>;
  async acquire(
    plan: CallPlan,
    signal: AbortSignal | undefined,
    opts: AcquireOptions,
  ): Promise<Permit | Deferral>;
  async acquire(plan: CallPlan, signal?: AbortSignal, opts: AcquireOptions = {}): Promise<Permit | Deferral> {
    const group = limiterGroup(plan);
    const prefix = prefixId(plan, group, (id) =>
      this.#options.keys.limiterCachePrefix(this.#options.account, group, id),
    );
    // Cache-aware order (cache-order.ts): a call whose prefix another call is writing waits for
    // that answer to begin, so it reads the prefix instead of paying the write again.
    const turn = prefix === undefined ? undefined : await this.#cache.turn(prefix, signal);
    const abandon = () => (turn?.kind === 'write' ? turn.abandon() : undefined);
    try {
      const answer = await this.#acquireInTurn(plan, group, { prefix, turn }, signal, opts);
      if ('deferred' in answer) abandon();
      return answer;
    } catch (err) {
      abandon();
      throw err;
    }
  }

  /** {@link acquire} once the call's turn in its prefix's order came. */
  async #acquireInTurn(
    plan: CallPlan,
    group: string,
    cache: CacheState,
    signal: AbortSignal | undefined,
    opts: AcquireOptions,
  ): Promise<Permit | Deferral> {
    const key = this.key(group);
    // The group is in use from here (requestRate reads it, idle groups are dropped), gate or not.
    const gate = this.#gate(group);
    const groupState = await this.#read(key);
    const prefix = prefixCharge(plan, cache);
    const costs: Costs = {
      requests: 1,
      input_tokens: Math.max(1, Math.round(prefix.inputTokens * groupState.inRatio)),
      output_tokens: plan.maxTokens,
    };
    const priority = bottleneckPriority(plan.priority);
    const mayDefer = opts.mayDefer === true;
    const local = this.#localOf(group);
    if (mayDefer) {
      const early = earlyDeferral(groupState, costs, local, priority, this.#state.tuning);
      if (early) return early;
    }
    const quota = plan.quota;
    const perMinute = quota?.perMinute;
    const quotaTokens = plan.inputTokens + plan.maxTokens;
    // Only a quota is awaited here: without one, the deferral decision above and the parking in
    // #admit happen in one turn of the event loop, so concurrent calls count each other.
    if (perMinute !== undefined) {
      const overQuota = await takePerMinute(perMinute, quotaTokens, mayDefer, signal);
      if (overQuota) return overQuota;
    }
    const share: ShareBuckets | undefined =
      quota?.share !== undefined ? { key: this.shareKey(group, quota.id), share: quota.share } : undefined;
    const admission = { key, costs, priority, mayDefer, local, groupState, quota, share, quotaTokens };
    const admitted = await this.#admit(admission, gate, signal);
    if ('deferred' in admitted) {
      // Not admitted: the call is not made now, so it has not used the tenant's per-minute quota.
      await perMinute?.giveBack(1, quotaTokens);
      return admitted;
    }
    return this.#permit(plan, group, key, costs, admitted, share?.key, prefix);
  }

  /**
   * Admission: admitted (the state) or handed back (a deferral). A call that finds none of this
   * process's calls in the gate looks once without it (see the top); otherwise, or without room, it
   * looks again in the gate until admitted.
   */
  async #admit(
    a: Admission,
    gate: Bottleneck,
    signal: AbortSignal | undefined,
  ): Promise<AdmitResult | Deferral> {
    let admitted: Look = { sleepMs: 0 };
    // Counted among the group's waiting calls from here (the room above counts calls still looking).
    a.local.parked.push(a.priority);
    try {
      if (this.#closed) throw new Error('limiter closed');
      if (signal?.aborted) throw abortError(signal);
      if (a.local.gated === 0) admitted = await this.#look(a);
      if (isSleep(admitted)) admitted = await this.#lookInGate(a, gate, admitted.sleepMs, signal);
    } catch (err) {
      await a.quota?.perMinute?.giveBack(1, a.quotaTokens).catch(() => {});
      throw err;
    } finally {
      a.local.parked.splice(a.local.parked.indexOf(a.priority), 1);
    }
    return admitted;
  }

  /** In the gate: look until admitted or handed back, sleeping as each look says. */
  async #lookInGate(
    a: Admission,
    gate: Bottleneck,
    sleepMs: number,
    signal: AbortSignal | undefined,
  ): Promise<AdmitResult | Deferral> {
    const sleepUntil = Date.now() + sleepMs;
    a.local.gated += 1;
    try {
      return await gate.schedule({ priority: a.priority }, async () => {
        // A first look that found no room: nothing changes before that wait is over.
        const first = sleepUntil - Date.now();
        if (first > 0) await sleep(first, signal);
        for (;;) {
          if (this.#closed) throw new Error('limiter closed');
          if (signal?.aborted) throw abortError(signal);
          const next = await this.#look(a);
          if (!isSleep(next)) return next;
          await sleep(next.sleepMs, signal);
        }
      });
    } finally {
      a.local.gated -= 1;
    }
  }

  /** One look at the buckets: admitted (what admission found), handed back (a deferral), or how long to sleep. */
  async #look(a: Admission): Promise<Look> {
    const hold = this.#state.tuning.holdMs;
    const found = await this.#state.admit(a.key, a.costs, Date.now(), a.share);
    const { waitMs, state, resource } = found;
    if (waitMs <= 0) return found;
    // Over its share: step aside at once, whatever the wait (others of the group may go).
    if (a.mayDefer && state === 'quota') {
      const tenantId = a.quota?.id ?? '';
      return quotaDeferral(
        this.#state.tuning,
        a.local,
        tenantId,
        a.groupState,
        a.costs,
        a.quota?.share ?? 1,
        waitMs,
        resource,
      );
    }
    // (Not while a discovery request or an overload probe is out: its answer usually comes long
    // before its lifetime ends.)
    const awaiting = state === 'discovering' || state === 'probing';
    if (a.mayDefer && waitMs > hold && !awaiting) {
      const reason = state === 'paused' ? 'paused' : 'pacing';
      return spacedDeferral(this.#state.tuning, a.local, a.groupState, a.costs, Date.now() + waitMs, reason);
    }
    // While it is out, look again soon: its answer ends the wait at once.
    return { sleepMs: Math.min(Math.max(waitMs, 1), awaiting ? 50 : 1000) };
  }

  /** The admitted call's permit; the writer of a cacheable prefix ends its write when its answer begins. */
  #permit(
    plan: CallPlan,
    group: string,
    key: string,
    costs: Costs,
    admitted: AdmitResult,
    shareKey: string | undefined,
    charge: PrefixCharge,
  ): Permit {
    const { prefix, turn } = charge;
    const made = createPermit(this.#permits, {
      group,
      key,
      plan,
      costs,
      discovery: admitted.state === 'discovery',
      probe: admitted.state === 'probe',
      admitted: { levels: admitted.levels, at: Date.now() },
      cacheReadsCount: charge.readsCount,
      // (The discovery request was charged to no share: the group's limits were unknown.)
      shareKey: admitted.state === 'ok' || admitted.state === 'probe' ? shareKey : undefined,
      perMinute: plan.quota?.perMinute,
      onCached: prefix === undefined ? undefined : () => this.#cache.remember(prefix),
    });
    const permit: Permit = {
      ...made,
      settle: (result) => {
        if (result.outcome === 'success') noteCallCosts(this.#callCosts, group, costs, result.outputTokens);
        return made.settle(result);
      },
    };
    if (turn?.kind !== 'write') return permit;
    return {
      ...permit,
      // The first token: the API wrote the prefix, so the calls waiting for it go now as reads,
      // not when this call (maybe a long one) ends.
      observeFirstToken: () => turn.answered(),
      settle: async (result) => {
        try {
          await permit.settle(result);
        } finally {
          // Answered (the prefix is cached, or too short to be): the others go; no answer: the
          // next call with the prefix writes it.
          if (result.outcome === 'success') turn.answered();
          else turn.abandon();
        }
      },
    };
  }

  /** The group's state, read at most every `stateReadMs` by this process (concurrent calls share a read). */
  #read(key: string): Promise<GroupState> {
    const now = Date.now();
    const hit = this.#reads.get(key);
    if (hit && now - hit.at < this.#state.tuning.stateReadMs) return hit.state;
    const state = this.#state.read(key);
    this.#reads.set(key, { at: now, state });
    state.catch(() => this.#reads.delete(key));
    return state;
  }

  #localOf(group: string): LocalGroup {
    let l = this.#local.get(group);
    if (!l) {
      l = { parked: [], gated: 0, nextBackAt: 0, pacedBackAt: 0, quotaBackAt: new Map() };
      this.#local.set(group, l);
    }
    return l;
  }

  /**
   * Requests per second the groups this process has used may take, summed: each group's discovered
   * request limit at the current pace, or fewer where its token limits allow fewer calls of the
   * size this process's calls have had ({@link callsPerMinute}); 0 while nothing is known.
   */
  async requestRate(): Promise<number> {
    this.#dropIdleGroups();
    let rps = 0;
    for (const group of this.#gates.keys()) {
      const groupState = await this.#state.read(this.key(group));
      rps += (callsPerMinute(groupState, this.#callCosts.get(group)) * this.#state.tuning.target) / 60;
    }
    return rps;
  }

  /**
   * This process's share of {@link requestRate}: the rate over the worker processes that asked the
   * account for permits within the last `windowMs` (limiter/peers.ts). A process counts itself
   * while it has asked for one within that window; 0 while nothing is known.
   */
  async requestShare(windowMs: number): Promise<number> {
    const rps = await this.requestRate();
    const now = Date.now();
    const active = [...this.#lastUsed.values()].some((at) => now - at <= windowMs);
    const peers = await this.#peers.count(windowMs, active, now);
    return rps / peers;
  }

  /** Stop: pending acquisitions are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#gates.values()].map((g) => g.stop({ dropWaitingJobs: true })));
    this.#gates.clear();
  }
}

/** Running means of a successful call's input tokens (as charged) and output tokens (as served). */
interface CallCosts {
  input: number;
  output: number;
}

/** Weight of a new call in {@link CallCosts}. */
const callCostWeight = 0.1;

function noteCallCosts(
  means: Map<string, CallCosts>,
  group: string,
  costs: Costs,
  outputTokens: number | undefined,
): void {
  if (outputTokens === undefined) return;
  const input = costs.input_tokens;
  const m = means.get(group);
  if (!m) {
    means.set(group, { input, output: outputTokens });
    return;
  }
  m.input += (input - m.input) * callCostWeight;
  m.output += (outputTokens - m.output) * callCostWeight;
}

/**
 * Calls a minute a group may take at its pace: its request limit, or fewer where a token limit over
 * the mean call's tokens allows fewer (where tokens bind, the request limit overstates the calls
 * by as much as the tokens bind); 0 with no request limit known.
 */
export function callsPerMinute(
  state: Pick<GroupState, 'limits' | 'factor'>,
  costs: CallCosts | undefined,
): number {
  const { requests, input_tokens: input, output_tokens: output } = state.limits;
  if (!requests) return 0;
  let calls = requests;
  if (costs && input && costs.input > 0) calls = Math.min(calls, input / costs.input);
  if (costs && output && costs.output > 0) calls = Math.min(calls, output / costs.output);
  return calls * state.factor;
}

/** One call's admission: what each look at the buckets needs. */
interface Admission {
  key: string;
  costs: Costs;
  priority: number;
  mayDefer: boolean;
  local: LocalGroup;
  groupState: GroupState;
  quota: CallPlan['quota'];
  share: ShareBuckets | undefined;
  /** What the per-minute quota was charged (given back when admission fails). */
  quotaTokens: number;
}

/** A look's answer: admitted, handed back (a deferral), or sleep and look again. */
type Look = AdmitResult | Deferral | { sleepMs: number };

const isSleep = (look: Look): look is { sleepMs: number } => 'sleepMs' in look;

/** The group a call is paced in: its model's family, or that family's `speed: "fast"` bucket. */
export function limiterGroup(plan: Pick<CallPlan, 'model' | 'speed'>): string {
  const group = modelGroup(plan.model);
  return plan.speed === 'fast' ? `${group}-fast` : group;
}
