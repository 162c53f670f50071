import type { BatchStore } from './batches.js';
import type { ResolvedOptions } from './options.js';
import type { PromptCache } from './prompt-cache.js';
import type { RateLimiter } from './rate-limiter.js';
import type { Rng } from './rng.js';
import type { StatsRecorder } from './stats.js';
import type { ScriptedFault } from './types.js';

/** Everything a request handler needs; one per running simulator. */
export interface SimContext {
  opts: ResolvedOptions;
  limiter: RateLimiter;
  cache: PromptCache;
  stats: StatsRecorder;
  /** Scripted outcomes for the next `POST /v1/messages`, FIFO. */
  script: ScriptedFault[];
  /** Separate streams so that changing fault rates does not change output lengths. */
  faultRng: Rng;
  outputRng: Rng;
  /** The Message Batches API's batches (batches.ts). */
  batches: BatchStore;
}
