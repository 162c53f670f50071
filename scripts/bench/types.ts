/** Shapes shared by the benchmark's scenarios, runners and reports. */
import type { JobBody } from '../../src/core/job.js';

/** One prompt job of a scenario's workload. */
export interface BenchJob {
  /** Unique within the run (also the promptq job id). */
  id: string;
  /** The tenant, or undefined for single-tenant scenarios. */
  tenant: string | undefined;
  /** When the job is enqueued, in ms after the run starts. */
  enqueueAtMs: number;
  body: JobBody & { prompt: string };
  /** Input tokens the simulator bills for this request (its own tokenizer). */
  inputTokens: number;
}

/** What happened to one job, measured by the runner. */
export interface JobOutcome {
  id: string;
  tenant: string | undefined;
  /** Epoch ms the job was enqueued (handed to the approach). */
  enqueuedAt: number;
  /** Epoch ms the job finished (completed or failed for good); null if it never did. */
  finishedAt: number | null;
  ok: boolean;
}

/** Everything a runner needs for one (scenario, approach) run. */
export interface RunContext {
  jobs: readonly BenchJob[];
  /** The simulator's base URL. */
  simUrl: string;
  /** A private redis-server for this run. */
  redisUrl: string;
  /** A queue name no other run uses. */
  queue: string;
  /** Worker processes (or in-process instances for the baselines) sharing the account. */
  workers: number;
  /** In-flight calls per worker. */
  concurrency: number;
  /**
   * promptq sizes its own slots (no `PROMPTQ_CONCURRENCY`: its concurrency tuner, from its share of
   * the account); `concurrency` binds the other approaches only (S12).
   */
  adaptiveConcurrency?: boolean;
  /**
   * What a hand-tuned count limiter is set to for the whole account, jobs per second: the same
   * target share of the true limit promptq aims at. A limiter that is not shared between processes
   * gets `jobsPerSecond / workers` per process.
   */
  jobsPerSecond: number;
  /**
   * Where input tokens bind (S2): the account's input tokens per second at the target share. A
   * careful user weighs each job by its tokens against a reservoir refilled at this rate, and
   * spaces requests by the account's request limit (`requestsPerSecond`), not by the mean job.
   */
  tokensPerSecond?: number;
  /** With `tokensPerSecond`: the account's requests per second at the target share. */
  requestsPerSecond?: number;
  /**
   * Where tenants compete (S5): the tenant whose jobs a careful user marks urgent (a higher
   * priority than everything else).
   */
  urgentTenant?: string;
  /** S9: per model family (`modelGroup`), the family's own static rate; a careful user keeps one limiter per family. */
  groupJobsPerSecond?: Record<string, number>;
  /**
   * The runner calls this once its setup is done (processes up, connections ready): the run's clock
   * starts there. Returns the start (job `enqueueAtMs` offsets count from it) and the epoch ms after
   * which the runner gives up waiting (unfinished jobs are reported as such).
   */
  begin(): { t0: number; deadline: number };
  /** Called with the number of finished jobs whenever it changes (progress lines). */
  progress(done: number): void;
}

/** One approach's implementation: run every job of the context, report each job's outcome. */
export type Runner = (ctx: RunContext) => Promise<JobOutcome[]>;
