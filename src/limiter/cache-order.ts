/**
 * Cache-aware order across worker processes: calls sharing a cacheable prompt prefix (tools, system
 * and messages up to the last `cache_control`) run so that one cache write is paid and the others
 * read. The first call with a prefix the API does not hold is its writer and goes at once; a call
 * with the same prefix that would start before the writer's answer began waits for it (at most
 * `cacheWriteWaitMs`), then goes as a read. Once the answer began (the API writes the prefix before
 * the first token), the prefix counts as cached for the cache lifetime (`cacheTtlMs`), refreshed by
 * every answer that reads it.
 *
 * The state is in Redis, one key per account, model group, model and prefix
 * (`Keyspace.limiterCachePrefix`, under the group's hash tag), changed by `cache-turn-1.lua`: so the
 * order holds across processes, and the limiter's charging (a cached prefix is not charged where
 * reads are free) follows what any process saw. Within a process, waiting calls wake on the local
 * writer's answer ({@link PromptCacheTracker}); the calls of a process waiting for another process's
 * writer share one watch of the prefix, which looks again after {@link pollMs}, doubling up to
 * {@link pollMaxMs} (never past the writer's lease): about 8 looks in the first second and 4 a
 * second after that per process and prefix, however many calls wait.
 */
import { randomUUID } from 'node:crypto';
import { cacheReadsCountTowardItpm } from '../core/models.js';
import type { LimiterTuning } from '../core/settings.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import { script } from '../store/scripts.js';
import { abortError, sleep } from './deferral.js';
import { PromptCacheTracker } from './prompt-cache.js';
import type { CallPlan } from './types.js';

type TurnReply = [state: 'cached' | 'write' | 'writing', ms: number];

const cacheTurn = script(
  'cache-turn-1.lua',
  ['prefix'],
  ['op', 'token', 'ms'],
  (reply) => reply as TurnReply | number,
);

/** How soon a call waiting for another process's writer first looks again (ms). */
export const pollMs = 25;
/** The longest a call waiting for another process's writer goes without looking (ms). */
export const pollMaxMs = 250;

/** `p`, or its signal's abort error when the signal aborts first. */
function abortable(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  let onAbort = () => {};
  const aborted = new Promise<void>((_, reject) => {
    onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/** A call's place in the order of its prefix. */
export type CacheTurn =
  /** The API holds the prefix: the call reads it. */
  | { readonly kind: 'cached' }
  /** The call writes the prefix: `answered` when its answer begins, `abandon` when it ends without one. */
  | { readonly kind: 'write'; answered(): void; abandon(): void }
  /** No order (off, or the writer's answer did not begin in time): the call goes, charged as a write. */
  | { readonly kind: 'unordered' };

const cached: CacheTurn = { kind: 'cached' };
const unordered: CacheTurn = { kind: 'unordered' };

/** A prefix: `key` in this process (`group:model:fingerprint`), `redisKey` its shared key. */
export interface PrefixId {
  key: string;
  redisKey: string;
}

export class CacheOrder {
  readonly #redis: Redis;
  readonly #tuning: () => LimiterTuning;
  readonly local: PromptCacheTracker;
  readonly #watches = new Map<string, Promise<void>>();

  constructor(redis: Redis, tuning: () => LimiterTuning) {
    this.#redis = redis;
    this.#tuning = tuning;
    this.local = new PromptCacheTracker(tuning);
  }

  /** This call's turn: at once when the prefix is cached or nobody writes it, else after the writer's answer began. */
  async turn(prefix: PrefixId, signal?: AbortSignal): Promise<CacheTurn> {
    if (this.local.isCached(prefix.key)) return cached;
    const waitMs = this.#tuning().cacheWriteWaitMs;
    if (waitMs <= 0) return unordered;
    const until = Date.now() + waitMs;
    for (;;) {
      const mine = this.local.writing(prefix.key);
      if (mine) {
        await Promise.race([mine, sleep(Math.max(0, until - Date.now()), signal)]);
        if (this.local.isCached(prefix.key)) return cached;
      } else {
        const token = randomUUID();
        const [state, ms] = (await cacheTurn(
          this.#redis,
          { prefix: prefix.redisKey },
          { op: 'claim', token, ms: waitMs },
        )) as TurnReply;
        if (state === 'cached') {
          this.local.remember(prefix.key, ms);
          return cached;
        }
        if (state === 'write') return this.#writer(prefix, token);
        if (until - Date.now() > 0) await abortable(this.#watch(prefix, until, ms), signal);
        if (this.local.isCached(prefix.key)) return cached;
      }
      if (until - Date.now() <= 0) return unordered;
    }
  }

  /**
   * Resolves when a look finds nobody writing the prefix (cached: remembered here), or at `until`.
   * One watch per prefix in this process, shared by every call waiting for it: waiting costs
   * Redis a few looks a second per process and prefix, not per waiting call.
   */
  #watch(prefix: PrefixId, until: number, leaseMs: number): Promise<void> {
    let watch = this.#watches.get(prefix.key);
    if (watch === undefined) {
      watch = this.#look(prefix, until, leaseMs)
        .catch(() => {})
        .finally(() => this.#watches.delete(prefix.key));
      this.#watches.set(prefix.key, watch);
    }
    return watch;
  }

  async #look(prefix: PrefixId, until: number, leaseMs: number): Promise<void> {
    let next = pollMs;
    let lease = leaseMs;
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) return;
      await sleep(Math.max(1, Math.min(next, left, lease)));
      next = Math.min(pollMaxMs, next * 2);
      const [state, ms] = (await cacheTurn(
        this.#redis,
        { prefix: prefix.redisKey },
        { op: 'peek', token: '', ms: 0 },
      )) as TurnReply | ['free', number];
      if (state === 'cached') this.local.remember(prefix.key, ms);
      if (state !== 'writing') return;
      lease = ms;
    }
  }

  /** The API answered with this prefix (a write or a read): cached for the cache lifetime, for every process. */
  remember(prefix: PrefixId): void {
    const ttl = this.#tuning().cacheTtlMs;
    this.local.remember(prefix.key, ttl);
    this.#send(prefix, 'cached', '', ttl);
  }

  #writer(prefix: PrefixId, token: string): CacheTurn {
    const endLocal = this.local.beginWrite(prefix.key) ?? (() => {});
    let ended = false;
    const end = (then: () => void) => {
      if (ended) return;
      ended = true;
      then();
      endLocal();
    };
    return {
      kind: 'write',
      answered: () => end(() => this.remember(prefix)),
      abandon: () => end(() => this.#send(prefix, 'release', token, 0)),
    };
  }

  /** Off the call's path: a failed write of the order costs at most a second cache write. */
  #send(prefix: PrefixId, op: 'cached' | 'release', token: string, ms: number): void {
    cacheTurn(this.#redis, { prefix: prefix.redisKey }, { op, token, ms }).catch(() => {});
  }
}

/** A call's prefix (`group:model:fingerprint` here; `redisKeyOf(model:fingerprint)` shared); undefined without one. */
export function prefixId(
  plan: CallPlan,
  group: string,
  redisKeyOf: (id: string) => string,
): PrefixId | undefined {
  if (plan.cachePrefixKey === undefined) return undefined;
  const id = `${plan.model}:${plan.cachePrefixKey}`;
  return { key: `${group}:${id}`, redisKey: redisKeyOf(id) };
}

/** A call's cacheable prefix and its turn in the prefix's order (none without a prefix). */
export interface CacheState {
  prefix: PrefixId | undefined;
  turn: CacheTurn | undefined;
}

/** A call's cacheable prefix as the limiter charges it. */
export interface PrefixCharge extends CacheState {
  /** Cache reads count toward the model's ITPM. */
  readsCount: boolean;
  /** The prefix is cached (and reads are free): it is not charged. */
  cached: boolean;
  /** The input tokens charged: the estimate less a cached prefix. */
  inputTokens: number;
}

/**
 * The cacheable prefix's charge. What the API will count toward ITPM: uncached input and cache
 * writes; cache reads only on models where they count. The prefix is free when its turn found it
 * cached (a read), else it is a write.
 */
export function prefixCharge(plan: CallPlan, cache: CacheState): PrefixCharge {
  const readsCount = cacheReadsCountTowardItpm(plan.model);
  const cached = !readsCount && cache.turn?.kind === 'cached';
  const prefixTokens = cached ? Math.min(plan.cachePrefixTokens ?? 0, plan.inputTokens) : 0;
  return { ...cache, readsCount, cached, inputTokens: plan.inputTokens - prefixTokens };
}
