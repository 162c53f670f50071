/**
 * `promptq results FILE.jsonl|-`, and the pass it shares with `promptq backfill --out|--wait`: read
 * the jobs of a file's lines back from Redis (waiting for them with `--wait`), write one result per
 * line in input order, summarise. Exit codes: 0 ok, 1 a job failed (or did not finish).
 */
import { createWriteStream } from 'node:fs';
import { type PromptqConfig, topologyOf } from '../core/config.js';
import type { LineDefaults } from '../producer/backfill/parse.js';
import { Progress } from '../producer/backfill/progress.js';
import { openInput } from '../producer/backfill/reader.js';
import { collectResults } from '../producer/backfill/results.js';
import { type BackfillSummary, formatSummary } from '../producer/backfill/run-summary.js';
import { scanFile } from '../producer/backfill/scan.js';
import { connectOrFail, type RedisConnection } from '../store/connection.js';
import { keyspaceOf } from '../store/keys.js';

/** A Redis connection (any topology) that answered, or exit 2 naming REDIS_URL. */
export function connect(config: PromptqConfig, timeoutMs = 3000): Promise<RedisConnection> {
  return connectOrFail(topologyOf(config), { timeoutMs });
}

export const write = (s: string) => process.stdout.write(`${s}\n`);

export function failedExit(s: BackfillSummary): number {
  return s.failed + s.pending + s.missing + s.canceled + s.expired > 0 ? 1 : 0;
}

export async function results(
  redis: RedisConnection,
  config: PromptqConfig,
  path: string,
  lineDefaults: LineDefaults,
  jobs: number,
  options: {
    wait: boolean;
    /** A file for the result lines, or `stdout`; none: no lines. */
    out: string | { stdout: true } | undefined;
    timeoutSec: number | undefined;
    progress: Progress;
  },
): Promise<BackfillSummary> {
  // stdout is written to as it is (it may be a socket, which `/dev/stdout` cannot be opened on).
  // Results hold prompts' answers: a new file is private (0600, which a umask can only narrow); a
  // file that exists keeps the mode its owner gave it.
  const file = typeof options.out === 'string' ? createWriteStream(options.out, { mode: 0o600 }) : undefined;
  const out: NodeJS.WritableStream | undefined =
    file ?? (options.out === undefined ? undefined : process.stdout);
  options.progress.begin(options.wait ? 'wait' : 'results');
  try {
    const summary = await collectResults(path, lineDefaults, {
      redis,
      keys: keyspaceOf(config),
      wait: options.wait,
      ...(options.timeoutSec !== undefined ? { timeoutMs: options.timeoutSec * 1000 } : {}),
      ...(out ? { out } : {}),
      onProgress: (s) =>
        options.progress.update({
          phase: options.wait ? 'wait' : 'results',
          done: s.finished,
          total: jobs,
          failed: s.failed,
          inputTokens: s.inputTokens,
          outputTokens: s.outputTokens,
          costUsd: s.costUsd,
        }),
    });
    options.progress.done({
      phase: options.wait ? 'wait' : 'results',
      done: summary.succeeded + summary.failed,
      total: jobs,
      failed: summary.failed,
      inputTokens: summary.input_tokens,
      outputTokens: summary.output_tokens,
      costUsd: summary.cost_usd,
    });
    return summary;
  } finally {
    if (file)
      await new Promise<void>((resolve, reject) =>
        file.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
  }
}

export interface ResultsOptions {
  out?: string;
  wait: boolean;
  timeout?: number;
  idPrefix: string;
  /** The `--tenant` the backfill used: its lines' ids are that tenant's (ids are per tenant). */
  tenant?: string;
  json: boolean;
}

/** `promptq results FILE.jsonl|- [--out FILE] [--wait]` → exit code. */
export async function runResults(
  file: string,
  options: ResultsOptions,
  config: PromptqConfig,
): Promise<number> {
  const lineDefaults: LineDefaults = {
    tenant: options.tenant,
    priority: config.backfill.priority,
    idPrefix: options.idPrefix,
    limits: config.jobs.limits,
  };
  const timeoutSec = options.timeout;
  const input = await openInput(file);
  const redis = await connect(config);
  try {
    const scan = await scanFile(input.path, lineDefaults);
    const summary = await results(redis, config, input.path, lineDefaults, scan.jobs, {
      wait: options.wait,
      out: options.out ?? { stdout: true },
      timeoutSec,
      progress: new Progress(),
    });
    const text = options.json ? JSON.stringify({ summary }) : formatSummary(summary);
    // With no --out the result lines own stdout; the summary goes to stderr.
    if (options.out === undefined) process.stderr.write(`${text}\n`);
    else write(text);
    return failedExit(summary);
  } finally {
    redis.disconnect();
    await input.cleanup();
  }
}
