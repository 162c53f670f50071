/**
 * `promptq bench`: every scenario against a fresh simulator and a private redis-server per run,
 * promptq side by side with the hand-tuned alternatives; one table per scenario on stdout, progress
 * on stderr.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { UsageError } from '../../src/core/errors.js';
import { TestRedis } from '../lib/redis-server.js';
import { type ApproachId, type ApproachSettings, approaches, approachIds } from './approaches.js';
import { openBuckets } from './buckets.js';
import { checkPipeline, checkResult } from './check.js';
import { type RunningCompetitor, startCompetitor } from './competitor.js';
import { measure, type RunResult, type Served, served, steadyFromMs } from './measure.js';
import { medianResult } from './median.js';
import {
  buildPipelineScenario,
  medianRuns,
  type PipelineId,
  type PipelineRun,
  type PipelineScenario,
  pipelineIds,
  runPipeline,
} from './pipeline.js';
import { renderPipelineTable } from './pipeline-table.js';
import {
  bindingRate,
  buildScenario,
  defaultJobs,
  hardScenarioIds,
  idealSeconds,
  type Scenario,
  type ScenarioId,
  scenarioIds,
  staticGroupJobsPerSecond,
  staticJobsPerSecond,
  targetShare,
} from './scenarios.js';
import { renderTable } from './table.js';
import type { JobOutcome } from './types.js';

/** Every scenario: the rate-limiting ones (S1–S9) and the pipeline ones (S10, S11). */
export const benchScenarioIds = [...scenarioIds, ...pipelineIds] as const;
export type BenchScenarioId = ScenarioId | PipelineId;

/** Default main job counts of S10/S11 (full run, `--quick`). */
export const pipelineJobs: Record<PipelineId, { full: number; quick: number }> = {
  S10: { full: 3_000, quick: 300 },
  S11: { full: 3_000, quick: 600 },
};

/**
 * Rounds of every scenario: a full run takes the median of 3 (each figure its own median, see
 * `median.ts`), which is what `--check` judges; `--quick` runs one; `--rounds` sets it.
 */
export const defaultRounds = { full: 3, quick: 1 } as const;

const isPipeline = (id: BenchScenarioId): id is PipelineId => (pipelineIds as readonly string[]).includes(id);

export interface BenchOptions {
  /** `--quick` without `--scenario`: S1–S9 only (S10/S11 run when named). */
  scenarios: readonly BenchScenarioId[];
  approaches: readonly ApproachId[];
  /** Main job count of every scenario (default: per scenario, see `defaultJobs`). */
  jobs?: number;
  /** The smoke-test sizes. */
  quick: boolean;
  /** Check promptq's rows against the targets (`check.ts`); the command then exits 1 on a miss. */
  check?: boolean;
  /** Rounds of every scenario; the table and `--check` use the medians. @defaultValue 3, `--quick` 1 */
  rounds?: number;
  /** Where tables go. @defaultValue stdout */
  out?: (text: string) => void;
  /** Where progress lines go. @defaultValue stderr */
  progress?: (line: string) => void;
}

export interface ScenarioReport {
  kind: 'rate';
  scenario: Scenario;
  idealS: number;
  results: RunResult[];
  table: string;
}

/** S10/S11: the pipelines' runs. */
export interface PipelineReport {
  kind: 'pipeline';
  scenario: PipelineScenario;
  runs: PipelineRun[];
  table: string;
}

export type BenchReport = ScenarioReport | PipelineReport;

/** Seconds past the ideal a run may take before unfinished jobs are given up on. */
function deadlineMs(idealS: number): number {
  return idealS * 4_000 + 30_000;
}

/** What was served between a snapshot (`then`) and the end (`total`). */
const since = (total: Served, then: Served): Served => ({
  requests: total.requests - then.requests,
  rateLimited: total.rateLimited - then.rateLimited,
});

/** What a careful user configures a static limiter with in `s` (the same for every approach). */
function approachSettings(s: Scenario): ApproachSettings {
  const groups = staticGroupJobsPerSecond(s);
  return {
    workers: s.workers,
    jobsPerSecond: staticJobsPerSecond(s),
    ...(groups ? { groupJobsPerSecond: groups } : {}),
    ...(s.binding === 'input_tokens'
      ? {
          tokensPerSecond: bindingRate(s) * targetShare,
          requestsPerSecond: (s.limits.rpm / 60) * targetShare,
        }
      : {}),
    ...(s.adaptiveConcurrency ? { adaptiveConcurrency: true } : {}),
    // Tenants compete in S5: the interactive one is what a careful user marks urgent.
    ...(s.id === 'S5' ? { urgentTenant: 'interactive' } : {}),
  };
}

/** A fresh simulator enforcing the scenario's limits, every bucket starting empty. */
function scenarioSimulator(s: Scenario) {
  return startSimulator({
    seed: 1,
    startEmpty: true,
    limits: { ...s.limits, announced: s.announced ?? null },
    groupLimits: s.groupLimits ?? {},
    shortIntervalSeconds: s.shortIntervalSeconds,
    rateLimitHeaders: s.rateLimitHeaders ?? true,
    ...(s.latencyMs !== undefined ? { latencyMs: s.latencyMs } : {}),
    ...(s.output ? { output: { ...s.output, cap: 0 } } : {}),
  });
}

async function runOne(s: Scenario, id: ApproachId, progress: (line: string) => void): Promise<RunResult> {
  const approach = approaches[id];
  const redis = new TestRedis();
  await redis.start();
  const sim = await scenarioSimulator(s);
  const idealS = idealSeconds(s, s.jobs);
  const settings = approachSettings(s);
  const tag = `[${s.id} ${id}]`;
  let t0 = 0;
  let competitor: RunningCompetitor | undefined;
  let atDrop: { stats: ReturnType<typeof sim.stats>; at: number } | undefined;
  let dropTimer: NodeJS.Timeout | undefined;
  // The steady state's start: the simulator's counts then, taken off the end's.
  const steadyMs = steadyFromMs(idealS);
  let atSteady: Served | undefined;
  let steadyTimer: NodeJS.Timeout | undefined;
  let lastReport = 0;
  try {
    const outcomes: JobOutcome[] = await approach.runner({
      jobs: s.jobs,
      simUrl: sim.url,
      redisUrl: redis.url,
      queue: `bench-${s.id}-${id}-${randomUUID().slice(0, 8)}`,
      concurrency: s.concurrency,
      ...settings,
      begin: () => {
        t0 = Date.now();
        openBuckets(sim, s.jobs);
        steadyTimer = setTimeout(() => {
          atSteady = served(sim.stats(), competitor?.counts());
        }, steadyMs);
        if (s.competitor) {
          const at = t0 + s.competitor.atMs;
          competitor = startCompetitor(
            sim.url,
            s.jobs[0]?.body.model ?? 'claude-haiku-4-5',
            s.competitor.rpm,
            at,
          );
          dropTimer = setTimeout(() => {
            atDrop = { stats: sim.stats(), at: Date.now() };
          }, at - Date.now());
        }
        return { t0, deadline: t0 + deadlineMs(idealS) };
      },
      progress: (done) => {
        const now = Date.now();
        if (now - lastReport < 5_000 && done < s.jobs.length) return;
        lastReport = now;
        progress(`${tag} ${done}/${s.jobs.length} jobs finished after ${((now - t0) / 1000).toFixed(0)} s`);
      },
    });
    clearTimeout(dropTimer);
    clearTimeout(steadyTimer);
    await competitor?.stop();
    const stats = sim.stats();
    const counts = competitor?.counts();
    const total = served(stats, counts);
    const before = atDrop ? served(atDrop.stats, undefined) : undefined;
    return measure({
      approach: id,
      label: approach.label(settings),
      scenario: s,
      outcomes,
      t0,
      stats,
      served: total,
      ...(atSteady ? { steady: { fromS: steadyMs / 1000, served: since(total, atSteady) } } : {}),
      ...(atDrop && before
        ? {
            afterDrop: {
              at: atDrop.at,
              competitor: counts ?? { sent: 0, rateLimited: 0, okAt: [] },
              served: since(total, before),
            },
          }
        : {}),
    });
  } finally {
    clearTimeout(dropTimer);
    clearTimeout(steadyTimer);
    await competitor?.stop();
    await sim.close();
    await redis.destroy();
  }
}

/** Runs the chosen scenarios × approaches, printing each scenario's table as soon as it is done. */
export async function runBench(opts: BenchOptions): Promise<BenchReport[]> {
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  const progress = opts.progress ?? ((l: string) => process.stderr.write(`${l}\n`));
  const reports: BenchReport[] = [];
  const rounds = opts.rounds ?? defaultRounds[opts.quick ? 'quick' : 'full'];
  for (const id of opts.scenarios) {
    if (isPipeline(id)) {
      // Both pipelines always run: the plain one is what promptq is measured against.
      const s = buildPipelineScenario(
        id,
        opts.jobs ?? pipelineJobs[id][opts.quick ? 'quick' : 'full'],
        rounds,
      );
      const all: PipelineRun[] = [];
      for (let round = 1; round <= s.rounds; round++) {
        if (s.rounds > 1) progress(`[${id}] round ${round} of ${s.rounds}`);
        for (const r of s.runs) all.push(await runPipeline(s, r.kind, r.processes, progress));
      }
      const runs = medianRuns(all);
      const table = renderPipelineTable(s, runs);
      out(`${table}\n`);
      reports.push({ kind: 'pipeline', scenario: s, runs, table });
      continue;
    }
    const jobs = opts.jobs ?? (opts.quick ? defaultJobs[id].quick : defaultJobs[id].full);
    const s = buildScenario(id, { jobs, quick: opts.quick });
    const byApproach = new Map<ApproachId, RunResult[]>(opts.approaches.map((a) => [a, []]));
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) progress(`[${id}] round ${round} of ${rounds}`);
      for (const a of opts.approaches) byApproach.get(a)?.push(await runOne(s, a, progress));
    }
    const results = [...byApproach.values()].map(medianResult);
    const idealS = idealSeconds(s, s.jobs);
    const table = renderTable(s, idealS, results);
    out(`${table}\n`);
    reports.push({ kind: 'rate', scenario: s, idealS, results, table });
  }
  return reports;
}

export const benchUsage = `Usage: promptq bench [--scenario S1,S2,...] [--approach sdk,sdk10,bullmq,bottleneck,promptq] [--jobs N] [--quick] [--check]

Runs each scenario against the built-in simulator (fresh, buckets empty) and a private redis-server
(redis-server must be on PATH), promptq (no limits configured) side by side with the SDK's own
retries, BullMQ's static limiter and Bottleneck set to the target share of the true limit. Prints
one Markdown table per scenario. Scenarios: S1 request-bound with a 1-s guard, S2 input-token-bound,
S3 4 worker processes, S4 the allowance halves mid-run, S5 two tenants, S6 no rate-limit headers,
S7 headers that overstate the limit ×2, S8 prompt caching, S9 two model families with separate
limits, S10 pipeline overhead (promptq against a plain BullMQ worker + SDK, 1 and 4 processes:
jobs/s, Redis commands and CPU per job), S11 a fleet of 16 worker processes on one Redis. S10/S11
always run both of their pipelines (--approach does not apply) and, with --quick, only when named.
S12 Scale tier (10,000 RPM, calls of seconds, hundreds in flight over 4 processes). The lab's
hardest conditions (with --quick only when named): S13 headers that understate the limit, output-
token-bound; S14 no headers, output-token-bound; S15 no headers, limits enforced over 1-s windows.
Every scenario runs --rounds times (default 3, --quick 1); each table figure is the median over the
rounds (a failed job in any round counts), and "429 steady" leaves out the start-up.
--check: exit 1 when promptq misses a target (loose thresholds with --quick). --quick: smaller job counts (S1–S9, a few minutes).`;

function list<T extends string>(
  flag: string,
  raw: string | undefined,
  byDefault: readonly T[],
  allowed: readonly string[] = byDefault,
): T[] {
  if (raw === undefined) return [...byDefault];
  const items = raw.split(',').map((x) => x.trim());
  for (const x of items) {
    if (!(allowed as readonly string[]).includes(x)) {
      throw new BenchUsageError(`--${flag}: unknown "${x}" (choose from ${allowed.join(', ')})`);
    }
  }
  return items as T[];
}

/** A bad `promptq bench` argument; the message names the flag. */
export class BenchUsageError extends UsageError {
  override readonly name = 'BenchUsageError';
}

/** Parses `promptq bench` arguments; throws {@link BenchUsageError} naming the bad flag. */
export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      approach: { type: 'string' },
      jobs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  let jobs: number | undefined;
  if (values.jobs !== undefined) {
    if (!/^\d+$/.test(values.jobs) || Number(values.jobs) < 1 || Number(values.jobs) > 100_000) {
      throw new BenchUsageError(`--jobs: expected a whole number from 1 to 100000, got "${values.jobs}"`);
    }
    jobs = Number(values.jobs);
  }
  let rounds: number | undefined;
  if (values.rounds !== undefined) {
    if (!/^\d+$/.test(values.rounds) || Number(values.rounds) < 1 || Number(values.rounds) > 9) {
      throw new BenchUsageError(`--rounds: expected a whole number from 1 to 9, got "${values.rounds}"`);
    }
    rounds = Number(values.rounds);
  }
  const quick = values.quick ?? false;
  return {
    ...(rounds !== undefined ? { rounds } : {}),
    scenarios: list<BenchScenarioId>(
      'scenario',
      values.scenario?.toUpperCase(),
      quick
        ? scenarioIds.filter((id) => !(hardScenarioIds as readonly string[]).includes(id))
        : benchScenarioIds,
      benchScenarioIds,
    ),
    approaches: list('approach', values.approach?.toLowerCase(), approachIds),
    quick,
    check: values.check ?? false,
    ...(jobs !== undefined ? { jobs } : {}),
  };
}

/** `promptq bench ARGS` → exit code (2 for bad arguments, with one line on stderr). */
export async function benchCommand(argv: string[]): Promise<number> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseBenchArgs(argv);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (err instanceof BenchUsageError || code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`promptq: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(`${benchUsage}\n`);
    return 0;
  }
  const reports = await runBench(opts);
  if (!opts.check) return 0;
  let missed = 0;
  for (const r of reports) {
    let misses: string[];
    if (r.kind === 'pipeline') misses = checkPipeline(r.scenario.id, r.runs, opts.quick);
    else {
      const promptq = r.results.find((x) => x.approach === 'promptq');
      if (!promptq) continue;
      misses = checkResult(r.scenario.id, promptq, opts.quick);
    }
    missed += misses.length;
    const verdict = misses.length === 0 ? 'met' : `MISSED: ${misses.join('; ')}`;
    process.stderr.write(`check ${r.scenario.id}${opts.quick ? ' (quick, loose)' : ''}: ${verdict}\n`);
  }
  return missed === 0 ? 0 : 1;
}
