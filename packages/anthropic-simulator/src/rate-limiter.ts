import {
  fastRateLimitHeaders,
  type HeaderResource,
  type HeaderView,
  rateLimitHeaders,
} from './ratelimit-headers.js';
import { mergeLimits } from './resolve-options.js';
import {
  type BucketSpec,
  type BucketState,
  bucketSpec,
  emptyBucket,
  fullBucket,
  give,
  levelAt,
  msUntilFull,
  take,
  tryTake,
} from './token-bucket.js';
import type { LimitSet, Limits } from './types.js';

/** A rate-limited resource. */
export type Resource = 'requests' | 'input_tokens' | 'output_tokens';

const RESOURCES: readonly Resource[] = ['requests', 'input_tokens', 'output_tokens'];
const LIMIT_KEY: Record<Resource, keyof Limits> = {
  requests: 'rpm',
  input_tokens: 'itpm',
  output_tokens: 'otpm',
};
const HEADER_NAME: Record<Resource, HeaderResource> = {
  requests: 'requests',
  input_tokens: 'input-tokens',
  output_tokens: 'output-tokens',
};

/** The suffix of a model group's `speed: "fast"` bucket (`opus-fast`). */
export const FAST_SUFFIX = '-fast';

/** The standard group of a fast group (`opus-fast` → `opus`); `undefined` for any other group. */
export function fastBase(group: string): string | undefined {
  return group.endsWith(FAST_SUFFIX) && group.length > FAST_SUFFIX.length
    ? group.slice(0, -FAST_SUFFIX.length)
    : undefined;
}

/** What admitting one request costs. */
export type Cost = Record<Resource, number>;

/** Outcome of {@link RateLimiter.admit}. */
export type Admission =
  | { ok: true }
  | {
      ok: false;
      /** `bucket`: a per-minute bucket; `shortInterval`: only the hidden guard refused. */
      kind: 'bucket' | 'shortInterval';
      resource: Resource;
      /** The per-minute limit of `resource` (for the error message). */
      limit: number;
      /** Whole seconds (rounded up) until every refusing bucket can take the request. */
      retryAfterSeconds: number;
    };

interface Bucket {
  spec: BucketSpec;
  state: BucketState;
}

type Buckets = Partial<Record<Resource, Bucket>>;

interface Group {
  limits: LimitSet;
  enforced: Buckets;
  /** Only when announced limits differ: charged like `enforced`, shown in headers, never enforced. */
  announced: Buckets | null;
  /** The hidden short-interval guard (empty when off). */
  short: Buckets;
}

/** Construction parameters of {@link RateLimiter}. */
export interface RateLimiterConfig {
  defaults: LimitSet;
  groupLimits: Record<string, Partial<LimitSet>>;
  shortIntervalSeconds: number;
  /** `false`: {@link RateLimiter.headers} is empty (an endpoint that sends no rate-limit headers). */
  rateLimitHeaders?: boolean;
  startEmpty: boolean;
  now: () => number;
}

/**
 * Per-group token buckets for requests, input tokens and output tokens, plus the optional hidden
 * short-interval guard and the optional "announced" view the headers report.
 */
export class RateLimiter {
  readonly #config: RateLimiterConfig;
  #defaults: LimitSet;
  readonly #groups = new Map<string, Group>();

  constructor(config: RateLimiterConfig) {
    this.#config = config;
    this.#defaults = config.defaults;
  }

  /** Limits new groups start with. */
  get defaultLimits(): LimitSet {
    return structuredClone(this.#defaults);
  }

  /** Names of groups that have buckets (seen or configured). */
  groupNames(): string[] {
    return [...new Set([...Object.keys(this.#config.groupLimits), ...this.#groups.keys()])];
  }

  /** The limits in force for `group`. */
  limitsOf(group: string): LimitSet {
    return structuredClone(this.#group(group).limits);
  }

  /**
   * Charges `cost` if every enforced bucket (and short-interval guard) can take it; otherwise
   * charges nothing and says why. With `force`, charges regardless (scripted successes).
   */
  admit(group: string, cost: Cost, force = false): Admission {
    const g = this.#group(group);
    const now = this.#config.now();
    if (!force) {
      let waitMs = 0;
      let refusal: { kind: 'bucket' | 'shortInterval'; resource: Resource } | null = null;
      for (const [kind, buckets] of [
        ['bucket', g.enforced],
        ['shortInterval', g.short],
      ] as const) {
        for (const resource of RESOURCES) {
          const bucket = buckets[resource];
          if (!bucket) continue;
          const result = tryTake(bucket.state, bucket.spec, cost[resource], now, kind === 'shortInterval');
          if (result.ok) continue;
          // A request larger than a whole minute's limit can never pass; a full refill is the
          // honest answer the client can act on (and then be refused again, as in reality).
          const wait = Number.isFinite(result.waitMs)
            ? result.waitMs
            : msUntilFull(bucket.state, bucket.spec, now);
          waitMs = Math.max(waitMs, wait);
          refusal ??= { kind, resource };
        }
      }
      if (refusal) {
        return {
          ok: false,
          ...refusal,
          limit: g.limits[LIMIT_KEY[refusal.resource]],
          retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
        };
      }
    }
    for (const buckets of [g.enforced, g.announced ?? {}, g.short]) {
      for (const resource of RESOURCES) {
        const bucket = buckets[resource];
        if (bucket) bucket.state = take(bucket.state, bucket.spec, cost[resource], now);
      }
    }
    return { ok: true };
  }

  /** Returns unused capacity (e.g. `max_tokens` minus the tokens actually produced). */
  refund(group: string, resource: Resource, amount: number): void {
    if (amount <= 0) return;
    const g = this.#group(group);
    const now = this.#config.now();
    for (const buckets of [g.enforced, g.announced ?? {}, g.short]) {
      const bucket = buckets[resource];
      if (bucket) bucket.state = give(bucket.state, bucket.spec, amount, now);
    }
  }

  /**
   * The `anthropic-ratelimit-*` headers for `group` as of now (the announced view when set); for a
   * fast group (`<group>-fast`) its `anthropic-fast-*` headers beside the standard group's.
   */
  headers(group: string): Record<string, string> {
    if (this.#config.rateLimitHeaders === false) return {};
    const now = this.#config.now();
    const standard = fastBase(group);
    if (standard === undefined) return rateLimitHeaders(this.#views(group, now), now);
    return {
      ...rateLimitHeaders(this.#views(standard, now), now),
      ...fastRateLimitHeaders(this.#views(group, now), now),
    };
  }

  #views(group: string, now: number): Partial<Record<HeaderResource, HeaderView>> {
    const g = this.#group(group);
    const view = g.announced ?? g.enforced;
    const views: Partial<Record<HeaderResource, HeaderView>> = {};
    for (const resource of RESOURCES) {
      const bucket = view[resource];
      if (!bucket) continue;
      views[HEADER_NAME[resource]] = {
        limit: bucket.spec.capacity,
        level: levelAt(bucket.state, bucket.spec, now),
        msUntilFull: msUntilFull(bucket.state, bucket.spec, now),
      };
    }
    return views;
  }

  /**
   * Changes limits mid-run, for one group or (without `group`) the defaults and every group.
   * What was already used stays used: a bucket keeps `capacity - level` consumed under its new
   * capacity, so lowering a limit below current usage makes clients wait, as it would for real.
   */
  setLimits(patch: Partial<LimitSet>, group?: string): void {
    if (group === undefined) {
      this.#defaults = mergeLimits(this.#defaults, patch);
      for (const g of this.#groups.values()) this.#rebuild(g, mergeLimits(g.limits, patch));
      for (const name of Object.keys(this.#config.groupLimits)) {
        const configured = this.#config.groupLimits[name];
        if (configured) this.#config.groupLimits[name] = { ...configured, ...patch };
      }
      return;
    }
    const g = this.#group(group);
    this.#rebuild(g, mergeLimits(g.limits, patch));
  }

  /** Refills every bucket (or empties it with `startEmpty`); limits stay as they are. */
  reset(): void {
    for (const g of this.#groups.values()) {
      g.enforced = {};
      g.announced = null;
      g.short = {};
      this.#rebuild(g, g.limits);
    }
  }

  #group(name: string): Group {
    let g = this.#groups.get(name);
    if (!g) {
      // A fast bucket limits tokens only (the API announces no requests for it) unless configured.
      const defaults = fastBase(name) === undefined ? this.#defaults : { ...this.#defaults, rpm: 0 };
      const limits = mergeLimits(defaults, this.#config.groupLimits[name] ?? {});
      g = { limits, enforced: {}, announced: null, short: {} };
      this.#rebuild(g, limits);
      this.#groups.set(name, g);
    }
    return g;
  }

  #rebuild(g: Group, limits: LimitSet): void {
    const now = this.#config.now();
    const interval = this.#config.shortIntervalSeconds;
    const announced = limits.announced ? { ...limits, ...limits.announced } : null;
    g.limits = limits;
    g.announced = announced ? this.#rebase(g.announced ?? g.enforced, announced, 60, now) : null;
    g.short = interval > 0 ? this.#rebase(g.short, limits, interval, now) : {};
    g.enforced = this.#rebase(g.enforced, limits, 60, now);
  }

  #rebase(old: Buckets, limits: Limits, intervalSeconds: number, now: number): Buckets {
    const out: Buckets = {};
    for (const resource of RESOURCES) {
      const limit = limits[LIMIT_KEY[resource]];
      if (!limit) continue;
      const spec = bucketSpec(limit, intervalSeconds);
      const prev = old[resource];
      if (prev) {
        const used = prev.spec.capacity - levelAt(prev.state, prev.spec, now);
        out[resource] = { spec, state: { level: spec.capacity - used, at: now } };
      } else {
        const start = this.#config.startEmpty ? emptyBucket(spec, now) : fullBucket(spec, now);
        out[resource] = { spec, state: start };
      }
    }
    return out;
  }
}
