/**
 * The limiter in the call path: every API attempt acquires a permit before it is sent and settles
 * it with what the API answered. Per model group, a Bottleneck instance bounds concurrency; a 429
 * with `retry-after` holds the whole group (not just the job that saw it) until the time has passed.
 */
import Bottleneck from 'bottleneck';
import type { Outcome } from '../worker/classify.js';
import { parseRateLimitHeaders, type RateLimitSnapshot } from './headers.js';

/** What an attempt is about to spend. */
export interface CallPlan {
  model: string;
  /** Local estimate of input tokens. */
  inputTokens: number;
  maxTokens: number;
  tenant: string;
}

/** What the API answered. */
export interface CallResult {
  outcome: Outcome;
  headers: Headers | null;
  retryAfterMs: number | null;
  /** Real usage, when the call succeeded. */
  inputTokens?: number;
  outputTokens?: number;
}

export interface Permit {
  /** Report the answer and free the slot. Idempotent. */
  settle(result: CallResult): void;
}

export interface LimiterOptions {
  /** In-flight calls per worker process. @defaultValue 16 */
  maxConcurrent: number;
  /** Called with every parsed header snapshot (metrics). */
  onHeaders?: (group: string, snapshot: RateLimitSnapshot) => void;
  /** Called when a group pauses (429/529) with the reason and how long. */
  onPause?: (group: string, reason: string, ms: number) => void;
}

/** The model group whose limits are shared: the family in the model name (`opus`, `sonnet`, `haiku`). */
export function modelGroup(model: string): string {
  const m = /(opus|sonnet|haiku)/.exec(model);
  return m?.[1] ?? model;
}

export class RateLimiter {
  readonly #opts: LimiterOptions;
  readonly #groups = new Map<string, { limiter: Bottleneck; pausedUntil: number }>();

  constructor(opts: Partial<LimiterOptions> = {}) {
    this.#opts = { maxConcurrent: 16, ...opts };
    if (!Number.isInteger(this.#opts.maxConcurrent) || this.#opts.maxConcurrent < 1) {
      throw new Error(`maxConcurrent must be a positive integer, got ${this.#opts.maxConcurrent}`);
    }
  }

  #group(name: string) {
    let g = this.#groups.get(name);
    if (!g) {
      g = { limiter: new Bottleneck({ maxConcurrent: this.#opts.maxConcurrent }), pausedUntil: 0 };
      this.#groups.set(name, g);
    }
    return g;
  }

  /** Epoch ms until which `model`'s group is paused (0 if not). */
  pausedUntil(model: string): number {
    return this.#groups.get(modelGroup(model))?.pausedUntil ?? 0;
  }

  /** Wait for a slot (and for any pause on the group to pass), then hand out a permit. */
  async acquire(plan: CallPlan, signal?: AbortSignal): Promise<Permit> {
    const name = modelGroup(plan.model);
    const g = this.#group(name);
    return new Promise<Permit>((resolve, reject) => {
      g.limiter
        .schedule(async () => {
          // Held inside Bottleneck so the pause also holds back the jobs queued behind this one.
          for (;;) {
            const wait = g.pausedUntil - Date.now();
            if (wait <= 0) break;
            if (signal?.aborted) throw signal.reason ?? new Error('aborted');
            await new Promise((r) => setTimeout(r, Math.min(wait, 1000)));
          }
          if (signal?.aborted) throw signal.reason ?? new Error('aborted');
          await new Promise<void>((done) => {
            let settled = false;
            resolve({
              settle: (result) => {
                if (settled) return;
                settled = true;
                this.#observe(name, result);
                done();
              },
            });
          });
        })
        .catch(reject);
    });
  }

  #observe(name: string, result: CallResult): void {
    const g = this.#group(name);
    if (result.headers) {
      const snap = parseRateLimitHeaders(result.headers);
      if (Object.keys(snap).length > 0) this.#opts.onHeaders?.(name, snap);
    }
    if (result.outcome === 'rate_limited' && result.retryAfterMs !== null && result.retryAfterMs > 0) {
      const until = Date.now() + result.retryAfterMs;
      if (until > g.pausedUntil) {
        g.pausedUntil = until;
        this.#opts.onPause?.(name, 'rate_limited', result.retryAfterMs);
      }
    }
  }

  /** Stop all groups (pending acquisitions are rejected). */
  async close(): Promise<void> {
    await Promise.all([...this.#groups.values()].map((g) => g.limiter.stop({ dropWaitingJobs: true })));
    this.#groups.clear();
  }
}
