/**
 * `--slots tuner`: one simulated process's worker slots, sized by the worker's own ConcurrencyTuner
 * (src/worker/concurrency.ts) from its share of the account (`RateLimiter.requestShare`), as
 * `promptq worker` runs without `PROMPTQ_CONCURRENCY`: it starts at `worker.concurrency` (16) and
 * follows the tuner between `worker.adaptiveConcurrency.min` and `max`, looking every `intervalMs`
 * of virtual time. A slot the pool no longer has room for ends after its job. New slots take the
 * family furthest below its weight (the ample slot counts: each family's rate × latency), so the
 * pool is a queue of mixed jobs, not one pool per family.
 */
import { defaults } from '../../src/core/defaults.js';
import { Logger } from '../../src/core/log.js';
import type { RateLimiter } from '../../src/limiter/limiter.js';
import { ConcurrencyTuner } from '../../src/worker/concurrency.js';
import type { Condition } from './conditions.js';

export interface SlotPool {
  /** Between two jobs of a slot of `fam`: go on (true), or end that slot (the pool shrank). */
  keep(fam: number): boolean;
  /** A successful call's latency, for the tuner. */
  observe(latencyMs: number): void;
  stop(): void;
  /** The most slots held at once. */
  readonly peak: number;
}

type StartSlot = (fam: number, id: number, pool: SlotPool) => Promise<void>;

export function tunedPool(
  c: Pick<Condition, 'slots'>,
  limiter: Pick<RateLimiter, 'requestShare'>,
  start: StartSlot,
): SlotPool {
  const bounds = defaults.worker.adaptiveConcurrency;
  if (bounds === false) throw new Error('adaptive concurrency is off by default');
  const counts = c.slots.map(() => 0);
  let size = defaults.worker.concurrency;
  let live = 0;
  let peak = 0;
  let nextId = 0;
  let stopped = false;
  const family = () => {
    let best = 0;
    for (let f = 1; f < counts.length; f++) {
      if (((counts[f] ?? 0) + 1) / (c.slots[f] ?? 1) < ((counts[best] ?? 0) + 1) / (c.slots[best] ?? 1))
        best = f;
    }
    return best;
  };
  const grow = () => {
    while (!stopped && live < size) {
      const fam = family();
      counts[fam] = (counts[fam] ?? 0) + 1;
      live += 1;
      peak = Math.max(peak, live);
      void start(fam, nextId++, pool);
    }
  };
  const target = {
    get concurrency() {
      return size;
    },
    set concurrency(n: number) {
      size = n;
      grow();
    },
  };
  const tuner = new ConcurrencyTuner({
    ...bounds,
    // As the worker does (worker.ts): a process counts among the account's within three looks.
    requestRate: () => limiter.requestShare(3 * bounds.intervalMs),
    target,
    log: new Logger('error'),
  });
  const pool: SlotPool = {
    keep(fam) {
      if (live <= size) return true;
      live -= 1;
      counts[fam] = (counts[fam] ?? 1) - 1;
      return false;
    },
    observe: (ms) => tuner.observe(ms),
    stop() {
      stopped = true;
      tuner.stop();
    },
    get peak() {
      return peak;
    },
  };
  tuner.start();
  grow();
  return pool;
}
