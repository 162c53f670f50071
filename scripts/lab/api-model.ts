/**
 * A deterministic model of how the Anthropic API enforces rate limits, on a clock the caller
 * passes in (virtual ms): nothing here reads the time or sleeps.
 *
 * As Anthropic documents its limits:
 * - Each model family (and, for `speed: "fast"`, its fast bucket) has RPM, ITPM and OTPM limits,
 *   each a token bucket refilled continuously at limit/60 s. The limit is enforced over a shorter
 *   interval than the minute: the bucket holds `limit × windowS / 60` (60 RPM over 1 s windows is
 *   1 request a second). A request larger than a whole bucket goes when the bucket is full and leaves
 *   it in debt.
 * - ITPM counts uncached input and cache writes; cache reads only on models where they count.
 * - OTPM is charged `max_tokens` at admission and corrected to the real output at the end.
 * - A request some bucket cannot take is refused with a 429 and `retry-after` (whole seconds).
 * Beside the rules, what a real account sees: answers whose rate-limit headers are exact, absent,
 * overstate or understate the limits (×scale) or round token remainders down to thousands; limits
 * that change mid-run; another user of the key taking part of every refill; bursts of 529s; and
 * latencies with heavy tails and output streamed at a model's speed.
 */
import type { Rng } from './rng.js';

export type Resource = 'requests' | 'input_tokens' | 'output_tokens';
export const resources: readonly Resource[] = ['requests', 'input_tokens', 'output_tokens'];
export type Limits = Record<Resource, number>;

export type HeaderMode = 'present' | 'absent' | 'overstate' | 'understate' | 'rounded';

/** One model family of the account. */
export interface FamilySpec {
  /** A model id of the family (promptq groups by the family in the name). */
  model: string;
  limits: Limits;
  /** The `speed: "fast"` bucket's own limits (announced as `anthropic-fast-*`); none: no fast calls. */
  fast?: Limits | undefined;
  /** Cache reads count toward ITPM on this model (older models). */
  cacheReadsCount: boolean;
  /**
   * Each bucket holds at least this much (the workload's largest request): a short window never
   * makes a request larger than the whole bucket (that would go only into debt, a regime whose
   * ideal is ill-defined).
   */
  minBucket?: Limits | undefined;
}

export interface ApiSpec {
  families: FamilySpec[];
  /** The interval each bucket's capacity covers (1-60 s). */
  windowS: number;
  headers: { mode: HeaderMode; scale: number };
  /** At `atMs` (from the start) every limit is multiplied by `factor`. */
  limitChange?: { atMs: number; factor: number } | undefined;
  /** Share (0-0.5) of every bucket's refill another user of the key takes. */
  otherUser: number;
  /** Intervals (ms from the start) during which every request is answered 529. */
  overload: { startMs: number; durationMs: number }[];
  latency: { ttftMs: number; sigma: number; tokensPerS: number };
}

/** One request as sent. */
export interface ApiRequest {
  family: number;
  fast: boolean;
  /** Real prompt tokens (the whole prompt, cached prefix included). */
  inputTokens: number;
  /** Of those, the cacheable prefix, and its identity. */
  prefixTokens: number;
  prefixKey?: string | undefined;
  maxTokens: number;
  /** What the model will produce if admitted (≤ maxTokens). */
  outputTokens: number;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export type Reply =
  | { status: 200; id: number; headers: Headers; ttftMs: number; latencyMs: number; usage: Usage }
  | { status: 429; headers: Headers; retryAfterMs: number; latencyMs: number; resource: Resource }
  | { status: 529; headers: Headers; latencyMs: number };

/** What the API served, by its own counters (per bucket set: family, or family + fast). */
export interface ServedCounters {
  arrivals: number;
  ok: number;
  refused429: number;
  refused529: number;
  /** Units each resource counted for admitted requests (output: the real output). */
  used: Limits;
  /** The same, for requests admitted at or after the measurement start. */
  usedMeasured: Limits;
  /** Arrivals and 429s at or after the measurement start (the steady state). */
  arrivalsMeasured: number;
  refused429Measured: number;
}

/** What a request counts against each bucket, and its usage (cache reads and writes by the cache's state). */
interface Charge {
  cost: Limits;
  usage: Usage;
  cacheKey: string | undefined;
  readable: boolean;
}

/** A continuously refilled bucket with debt; it starts empty. */
class Bucket {
  level: number;
  ts: number;
  constructor(
    public rate: number,
    public capacity: number,
    now: number,
  ) {
    // Empty: the key was in use just before (a full bucket would be a free burst of up to a
    // minute's allowance that neither the ideal nor the real client would see again).
    this.level = 0;
    this.ts = now;
  }
  refill(now: number): void {
    if (now > this.ts)
      this.level = Math.min(this.capacity, this.level + ((now - this.ts) * this.rate) / 60_000);
    this.ts = Math.max(this.ts, now);
  }
  /** Ms until `amount` (at most the capacity) is there; 0: now. */
  waitFor(amount: number): number {
    const need = Math.min(amount, this.capacity);
    if (this.level >= need - 1e-9) return 0;
    return this.rate <= 0 ? Number.POSITIVE_INFINITY : ((need - this.level) * 60_000) / this.rate;
  }
  msUntilFull(): number {
    return this.rate <= 0 ? 0 : Math.max(0, ((this.capacity - this.level) * 60_000) / this.rate);
  }
}

/** One family's (or fast bucket's) three buckets and counters. */
class BucketSet {
  readonly buckets: Record<Resource, Bucket>;
  readonly counters: ServedCounters;
  constructor(
    readonly limits: Limits,
    readonly fast: boolean,
    spec: ApiSpec,
    now: number,
    readonly minBucket?: Limits,
  ) {
    const mk = (r: Resource) => new Bucket(...rateAndCapacity(limits[r], spec, minBucket?.[r]), now);
    this.buckets = {
      requests: mk('requests'),
      input_tokens: mk('input_tokens'),
      output_tokens: mk('output_tokens'),
    };
    const zero = () => ({ requests: 0, input_tokens: 0, output_tokens: 0 });
    this.counters = {
      arrivals: 0,
      ok: 0,
      refused429: 0,
      refused529: 0,
      used: zero(),
      usedMeasured: zero(),
      arrivalsMeasured: 0,
      refused429Measured: 0,
    };
  }
}

/** The refill rate (per minute, less the other user's part) and the capacity of a limit. */
function rateAndCapacity(limit: number, spec: ApiSpec, min = 1): [number, number] {
  return [limit * (1 - spec.otherUser), Math.max((limit * spec.windowS) / 60, 1, min)];
}

export class ApiModel {
  readonly spec: ApiSpec;
  readonly #start: number;
  readonly #rng: Rng;
  readonly #sets: BucketSet[] = [];
  readonly #fastSets: (BucketSet | undefined)[] = [];
  /** Cached prefixes: `family:key` → when the cache entry is readable (ms). */
  readonly #cache = new Map<string, number>();
  readonly #inFlight = new Map<number, { set: BucketSet; maxTokens: number; outputTokens: number }>();
  #nextId = 1;
  #changed = false;
  /** Requests admitted at or after this (virtual ms) count as measured. */
  measureFrom = 0;
  /**
   * Per overload burst (in `spec.overload`'s order): ms from its end to the first request the API
   * admitted after it (any bucket set); undefined while none was.
   */
  readonly recoveredAfterMs: (number | undefined)[] = [];

  constructor(spec: ApiSpec, now: number, rng: Rng) {
    this.spec = spec;
    this.#start = now;
    this.#rng = rng;
    for (const f of spec.families) {
      this.#sets.push(new BucketSet(f.limits, false, spec, now, f.minBucket));
      this.#fastSets.push(f.fast ? new BucketSet(f.fast, true, spec, now, f.minBucket) : undefined);
    }
  }

  /** Every bucket set (standard first, then fast ones), with its counters. */
  get sets(): { family: number; fast: boolean; limits: Limits; counters: ServedCounters }[] {
    const out = this.#sets.map((s, family) => ({
      family,
      fast: false,
      limits: s.limits,
      counters: s.counters,
    }));
    this.#fastSets.forEach((s, family) => {
      if (s) out.push({ family, fast: true, limits: s.limits, counters: s.counters });
    });
    return out;
  }

  #setOf(req: ApiRequest): BucketSet {
    const set = req.fast ? this.#fastSets[req.family] : this.#sets[req.family];
    if (!set) throw new Error(`no bucket set for family ${req.family} (fast: ${req.fast})`);
    return set;
  }

  /** The end of the overload burst `now` is in (ms), or undefined. */
  overloadedUntil(now: number): number | undefined {
    const since = now - this.#start;
    const o = this.spec.overload.find((o) => since >= o.startMs && since < o.startMs + o.durationMs);
    return o ? this.#start + o.startMs + o.durationMs : undefined;
  }

  /** How long until the API would admit `req` (0: now), without sending it (the ideal client's view). */
  waitMs(req: ApiRequest, now: number): number {
    this.#applyLimitChange(now);
    const set = this.#setOf(req);
    const { cost } = this.#cost(req, now);
    let wait = 0;
    for (const r of resources) {
      set.buckets[r].refill(now);
      wait = Math.max(wait, set.buckets[r].waitFor(cost[r]));
    }
    return wait;
  }

  /** A request arrives at `now`: admitted (200, with its timings) or refused (429 / 529). */
  send(req: ApiRequest, now: number): Reply {
    this.#applyLimitChange(now);
    const set = this.#setOf(req);
    const measured = now >= this.measureFrom;
    set.counters.arrivals += 1;
    if (measured) set.counters.arrivalsMeasured += 1;
    if (this.overloadedUntil(now) !== undefined) {
      set.counters.refused529 += 1;
      return { status: 529, headers: new Headers(), latencyMs: this.#rng.between(20, 200) };
    }
    const { cost, usage, cacheKey, readable } = this.#cost(req, now);
    for (const r of resources) set.buckets[r].refill(now);
    for (const r of resources) {
      const wait = set.buckets[r].waitFor(cost[r]);
      if (wait > 0) {
        set.counters.refused429 += 1;
        if (measured) set.counters.refused429Measured += 1;
        const retryAfterMs = Math.max(1, Math.ceil(wait / 1000)) * 1000;
        const headers = this.#headers(set);
        headers.set('retry-after', String(retryAfterMs / 1000));
        return { status: 429, headers, retryAfterMs, latencyMs: this.#rng.between(20, 200), resource: r };
      }
    }
    return this.#admit(set, req, now, { cost, usage, cacheKey, readable });
  }

  /** What `req` would count against each bucket at `now`, and its usage. */
  #cost(req: ApiRequest, now: number): Charge {
    const family = this.spec.families[req.family] as FamilySpec;
    const cacheKey = req.prefixKey === undefined ? undefined : `${req.family}:${req.prefixKey}`;
    const readable = cacheKey !== undefined && (this.#cache.get(cacheKey) ?? Number.POSITIVE_INFINITY) <= now;
    const prefix = Math.min(req.prefixTokens, req.inputTokens);
    const usage: Usage = {
      input_tokens: req.inputTokens - (cacheKey === undefined ? 0 : prefix),
      output_tokens: req.outputTokens,
      cache_creation_input_tokens: cacheKey !== undefined && !readable ? prefix : 0,
      cache_read_input_tokens: readable ? prefix : 0,
    };
    const cost: Limits = {
      requests: 1,
      input_tokens:
        usage.input_tokens +
        usage.cache_creation_input_tokens +
        (family.cacheReadsCount ? usage.cache_read_input_tokens : 0),
      output_tokens: req.maxTokens,
    };
    return { cost, usage, cacheKey, readable };
  }

  #admit(set: BucketSet, req: ApiRequest, now: number, a: Charge): Reply {
    const { cost, usage, cacheKey, readable } = a;
    this.spec.overload.forEach((o, i) => {
      const end = this.#start + o.startMs + o.durationMs;
      if (now >= end && this.recoveredAfterMs[i] === undefined) this.recoveredAfterMs[i] = now - end;
    });
    for (const r of resources) set.buckets[r].level -= cost[r];
    set.counters.ok += 1;
    const measured = now >= this.measureFrom;
    for (const r of resources) {
      const used = r === 'output_tokens' ? req.outputTokens : cost[r];
      set.counters.used[r] += used;
      if (measured) set.counters.usedMeasured[r] += used;
    }
    const ttftMs = this.#rng.logNormal(this.spec.latency.ttftMs, this.spec.latency.sigma);
    const latencyMs = ttftMs + (req.outputTokens * 1000) / this.spec.latency.tokensPerS;
    if (cacheKey !== undefined && !readable && !this.#cache.has(cacheKey))
      this.#cache.set(cacheKey, now + ttftMs);
    const id = this.#nextId++;
    this.#inFlight.set(id, { set, maxTokens: req.maxTokens, outputTokens: req.outputTokens });
    return { status: 200, id, headers: this.#headers(set), ttftMs, latencyMs, usage };
  }

  /** The admitted request `id` ends at `now`: its output bucket gets back `max_tokens` less the output. */
  finish(id: number, now: number): void {
    const call = this.#inFlight.get(id);
    if (!call) return;
    this.#inFlight.delete(id);
    const out = call.set.buckets.output_tokens;
    out.refill(now);
    out.level = Math.min(out.capacity, out.level + (call.maxTokens - call.outputTokens));
  }

  /** The answer's `anthropic-ratelimit-*` (or, on a fast bucket, `anthropic-fast-*`) headers. */
  #headers(set: BucketSet): Headers {
    const h = new Headers();
    const { mode, scale } = this.spec.headers;
    if (mode === 'absent') return h;
    const prefix = set.fast ? 'anthropic-fast' : 'anthropic-ratelimit';
    const names: Record<Resource, string> = {
      requests: 'requests',
      input_tokens: 'input-tokens',
      output_tokens: 'output-tokens',
    };
    const now = set.buckets.requests.ts;
    for (const r of resources) {
      const b = set.buckets[r];
      const k = mode === 'overstate' || mode === 'understate' ? scale : 1;
      const limit = Math.round(this.#currentLimit(set, r) * k);
      let remaining = Math.max(0, Math.floor(b.level * k));
      if (mode === 'rounded' && r !== 'requests') remaining = Math.floor(remaining / 1000) * 1000;
      h.set(`${prefix}-${names[r]}-limit`, String(limit));
      h.set(`${prefix}-${names[r]}-remaining`, String(remaining));
      h.set(`${prefix}-${names[r]}-reset`, new Date(now + b.msUntilFull()).toISOString());
    }
    return h;
  }

  #currentLimit(set: BucketSet, r: Resource): number {
    return set.limits[r] * (this.#changed ? (this.spec.limitChange?.factor ?? 1) : 1);
  }

  /** The limits change once, at `limitChange.atMs`: rates and capacities scale, levels are kept (capped). */
  #applyLimitChange(now: number): void {
    const change = this.spec.limitChange;
    if (this.#changed || !change || now - this.#start < change.atMs) return;
    this.#changed = true;
    for (const set of [...this.#sets, ...this.#fastSets]) {
      if (!set) continue;
      for (const r of resources) {
        const b = set.buckets[r];
        b.refill(this.#start + change.atMs);
        const [rate, capacity] = rateAndCapacity(
          set.limits[r] * change.factor,
          this.spec,
          set.minBucket?.[r],
        );
        b.rate = rate;
        b.capacity = capacity;
        b.level = Math.min(b.level, capacity);
      }
    }
  }
}
