/**
 * Which cacheable prompt prefixes the API holds now, as this process saw it (its own answers, and
 * what {@link CacheOrder} read from Redis), and which of them a call of this process is writing. A
 * call whose prefix is cached is charged ITPM for its uncached part only (on models where cache
 * reads do not count). The shared, cross-process part of the order is limiter/cache-order.ts.
 */
import type { LimiterTuning } from '../core/settings.js';

export class PromptCacheTracker {
  readonly #tuning: () => LimiterTuning;
  /** Prefixes (group:model:fingerprint) → until when the API keeps them cached, oldest first. */
  readonly #cached = new Map<string, number>();
  /** Prefixes whose first call (a cache write) is out → settled. */
  readonly #writing = new Map<string, Promise<void>>();

  constructor(tuning: () => LimiterTuning) {
    this.#tuning = tuning;
  }

  /** Settles when this process's call writing this prefix has its answer; undefined when none is out. */
  writing(key: string): Promise<void> | undefined {
    return this.#writing.get(key);
  }

  isCached(key: string): boolean {
    return (this.#cached.get(key) ?? 0) > Date.now();
  }

  /** The API holds this prefix for `ttlMs` more (by default the cache lifetime: it wrote or read it just now). */
  remember(key: string, ttlMs = this.#tuning().cacheTtlMs): void {
    const t = this.#tuning();
    this.#cached.delete(key);
    this.#cached.set(key, Date.now() + ttlMs);
    if (this.#cached.size > t.cachePrefixesKept) {
      const oldest = this.#cached.keys().next().value;
      if (oldest !== undefined) this.#cached.delete(oldest);
    }
  }

  /**
   * This call will write the prefix, unless another of this process is already writing it: returns
   * the function to call when its answer is in (or it ends without one), or undefined.
   */
  beginWrite(key: string): (() => void) | undefined {
    if (this.#writing.has(key)) return undefined;
    let done!: () => void;
    this.#writing.set(key, new Promise<void>((resolve) => (done = resolve)));
    return () => {
      this.#writing.delete(key);
      done();
    };
  }
}
