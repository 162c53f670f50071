/**
 * Adaptive concurrency: enough jobs in flight to use this process's share of the request rate the
 * limiter discovered, at the latency the worker observes (Little's law: in flight = rate ×
 * latency), within bounds. The share is the account's rate over the worker processes drawing on it
 * (limiter/peers.ts), so N processes together hold about what the account needs, not N times it.
 */
import type { Logger } from '../core/log.js';

/** In-flight calls wanted = rate × latency × this, plus {@link jitterSlots}. */
const headroom = 1.5;
/** A few more than Little's law asks for: latency jitter. */
const jitterSlots = 2;
/** Change only when the wanted value differs by at least this share, so the log speaks rarely. */
const minChange = 0.2;
/** Weight of a new latency sample in the moving average. */
const latencyWeight = 0.1;

export interface ConcurrencyTunerOptions {
  min: number;
  max: number;
  /** This process's share of the requests per second the API will take (0 while unknown). */
  requestRate: () => Promise<number>;
  /** What is tuned: a BullMQ `Worker`'s `concurrency`. */
  target: { concurrency: number };
  log: Logger;
  /** How often to look (`config.worker.adaptiveConcurrency.intervalMs`). */
  intervalMs: number;
}

export class ConcurrencyTuner {
  readonly #options: ConcurrencyTunerOptions;
  /** Moving average of successful attempt latency, ms (0 = no sample yet). */
  #latencyMs = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: ConcurrencyTunerOptions) {
    if (!(opts.min >= 1 && opts.max >= opts.min)) {
      throw new RangeError(`min, max: expected 1 ≤ min ≤ max, got ${opts.min}, ${opts.max}`);
    }
    this.#options = opts;
  }

  /** The latency of a successful attempt; the first one is acted on at once (calls of seconds: no waiting an interval more). */
  observe(latencyMs: number): void {
    const first = this.#latencyMs === 0;
    this.#latencyMs = first ? latencyMs : this.#latencyMs * (1 - latencyWeight) + latencyMs * latencyWeight;
    if (first && this.#timer !== undefined) void this.tune().catch(() => {});
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.tune().catch(() => {}), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Look once: set the target's concurrency if it should change. */
  async tune(): Promise<void> {
    const options = this.#options;
    // Asked at every look, latency known or not: the asking is how a process counts among the
    // account's (limiter/peers.ts) before its first answer, so the first sizing sees its peers.
    const rps = await options.requestRate();
    if (this.#latencyMs === 0 || rps <= 0) return;
    const want = Math.ceil(rps * (this.#latencyMs / 1000) * headroom) + jitterSlots;
    const next = Math.max(options.min, Math.min(options.max, want));
    const now = options.target.concurrency;
    if (Math.abs(next - now) / now < minChange) return;
    options.target.concurrency = next;
    options.log.info('concurrency adjusted', {
      from: now,
      to: next,
      request_rate_per_s: rps,
      latency_ms: Math.round(this.#latencyMs),
    });
  }
}
