/**
 * Which cacheable prompt prefixes the API holds now, as this process saw it. A call whose prefix is
 * cached is charged ITPM for its uncached part only (on models where cache reads do not count); the
 * first call with a new prefix is a cache write, and the others of this process wait for its answer
 * (at most `holdMs`) so that they become cheap reads instead of as many writes.
 */
import type { LimiterTuning } from '../core/settings.js';

export class PromptCacheTracker {
  readonly #tuning: () => LimiterTuning;
  /** Prefixes (group:fingerprint) → until when the API keeps them cached, oldest first. */
  readonly #cached = new Map<string, number>();
  /** Prefixes whose first call (a cache write) is out → settled. */
  readonly #writing = new Map<string, Promise<void>>();

  constructor(tuning: () => LimiterTuning) {
    this.#tuning = tuning;
  }

  /** Settles when the call writing this prefix has its answer; undefined when none is out. */
  writing(key: string): Promise<void> | undefined {
    return this.#writing.get(key);
  }

  isCached(key: string): boolean {
    return (this.#cached.get(key) ?? 0) > Date.now();
  }

  /** The API wrote or read this prefix just now: it stays cached for the cache lifetime. */
  remember(key: string): void {
    const t = this.#tuning();
    this.#cached.delete(key);
    this.#cached.set(key, Date.now() + t.cacheTtlMs);
    if (this.#cached.size > t.cachePrefixesKept) {
      const oldest = this.#cached.keys().next().value;
      if (oldest !== undefined) this.#cached.delete(oldest);
    }
  }

  /**
   * This call will write the prefix, unless another is already writing it: returns the function
   * to call when its answer is in, or undefined.
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
