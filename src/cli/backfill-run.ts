/**
 * What `promptq backfill FILE.jsonl|-` does once its flags are parsed (backfill.ts): the order of
 * the passes — validate everything, (estimate and stop | enqueue, live or through the Message
 * Batches API), then optionally wait and write results (results-run.ts). Exit codes: 0 ok, 1 a job
 * failed (or did not finish), 2 usage or invalid input. Loaded only when the command runs.
 */

import type { PromptqConfig } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { Logger } from '../core/log.js';
import { PromptqEvents } from '../events/emitter.js';
import { Metrics } from '../ops/metrics/metrics.js';
import { subscribeRollups } from '../ops/metrics/rollup-subscriber.js';
import { RollupWriter } from '../ops/metrics/rollups.js';
import { subscribeJobNotifications } from '../ops/webhooks/webhooks.js';
import type { BatchRetry } from '../producer/backfill/batch-outcome.js';
import { BatchRun } from '../producer/backfill/batch-run.js';
import type { BatchRunSummary } from '../producer/backfill/batch-types.js';
import { budgetFits, formatBudgetFits } from '../producer/backfill/budget-fit.js';
import { countInputTokens } from '../producer/backfill/count-tokens.js';
import { enqueueFile } from '../producer/backfill/enqueue.js';
import { estimate, formatEstimate, observedOutputRatios } from '../producer/backfill/estimate.js';
import type { LineDefaults } from '../producer/backfill/parse.js';
import { Progress } from '../producer/backfill/progress.js';
import { openInput } from '../producer/backfill/reader.js';
import { formatSummary } from '../producer/backfill/run-summary.js';
import { formatProblems, scanFile } from '../producer/backfill/scan.js';
import { PromptQueue } from '../producer/queue.js';
import { modelPolicyOf } from '../providers/anthropic/model-policy.js';
import { PriceTable } from '../providers/anthropic/pricing.js';
import type { RedisConnection } from '../store/connection.js';
import { TenantStore, type TenantWithSpend } from '../store/tenant-store.js';
import { connect, failedExit, results, write } from './results-run.js';

/** The flags of `promptq backfill` (parsed and range-checked by backfill.ts). */
export interface BackfillOptions {
  out?: string;
  wait: boolean;
  dryRun: boolean;
  skipInvalid: boolean;
  tenant?: string;
  priority: number;
  countTokens: boolean;
  chunk: number;
  idPrefix: string;
  rpm?: number;
  itpm?: number;
  otpm?: number;
  timeout?: number;
  json: boolean;
  via: 'live' | 'batches' | 'auto';
  /** Seconds (`--deadline`). */
  deadline?: number;
  batchRetry: BatchRetry;
  batchSize: number;
}

/** `--via auto`: the Batches API for a large file, unless the results are needed within its 24 h window. */
export function chooseVia(
  options: Pick<BackfillOptions, 'via' | 'deadline'>,
  jobs: number,
  settings: Pick<PromptqConfig['backfill'], 'batchesAutoMinJobs'>,
): 'live' | 'batches' {
  if (options.via !== 'auto') return options.via;
  if (options.deadline !== undefined && options.deadline < 24 * 3600) return 'live';
  return jobs >= settings.batchesAutoMinJobs ? 'batches' : 'live';
}

/** `promptq backfill FILE.jsonl|- [flags]` → exit code. */
export async function runBackfill(
  file: string,
  options: BackfillOptions,
  config: PromptqConfig,
): Promise<number> {
  const lineDefaults: LineDefaults = {
    tenant: options.tenant,
    priority: options.priority,
    idPrefix: options.idPrefix,
    limits: config.jobs.limits,
    models: modelPolicyOf(config),
  };
  const chunk = options.chunk;
  const limits = { rpm: options.rpm, itpm: options.itpm, otpm: options.otpm };
  const timeoutSec = options.timeout;
  if (options.countTokens && !options.dryRun) throw new UsageError('--count-tokens goes with --dry-run');
  const wait = options.wait || options.out !== undefined;

  const input = await openInput(file);
  const progress = new Progress();
  try {
    const started = performance.now();
    progress.begin('validate');
    const scan = await scanFile(input.path, lineDefaults, {
      onProgress: (n) => progress.update({ phase: 'validate', done: n, total: n }),
    }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EISDIR' || err.code === 'EACCES')
        throw new UsageError(`cannot read ${file}: ${err.code}`);
      throw err;
    });
    progress.done({ phase: 'validate', done: scan.lines, total: scan.lines });
    const validateSeconds = (performance.now() - started) / 1000;
    if (scan.invalid > 0) {
      process.stderr.write(`${formatProblems(scan)}\n`);
      if (!options.skipInvalid && !options.dryRun) {
        throw new UsageError(
          `${scan.invalid} of ${scan.lines} lines are invalid (listed above); nothing was enqueued (--skip-invalid enqueues the valid ones)`,
        );
      }
    }
    if (scan.jobs === 0 && !options.dryRun) throw new UsageError('no jobs in the input');

    if (options.dryRun)
      return await dryRun(config, input.path, lineDefaults, scan, limits, options.countTokens, options.json);

    const redis = await connect(config);
    // The queue reads its settings (job limits, retention) from the config; every line was
    // checked against the models policy already (scan).
    const queue = new PromptQueue({ ...config, connection: redis, modelPolicy: lineDefaults.models });
    try {
      if (chooseVia(options, scan.jobs, config.backfill) === 'batches') {
        return await viaBatches(redis, queue, config, input.path, lineDefaults, scan, options, progress);
      }
      progress.begin('enqueue');
      const enq = await enqueueFile(queue, input.path, lineDefaults, {
        chunk,
        onProgress: (p) => progress.update({ phase: 'enqueue', done: p.handled, total: scan.jobs }),
      });
      progress.done({ phase: 'enqueue', done: enq.handled, total: scan.jobs });
      const enqueued = {
        lines: scan.lines,
        jobs: scan.jobs,
        added: enq.added,
        already_there: enq.handled - enq.added,
        invalid_skipped: scan.invalid,
        queue: config.queue,
        priority: lineDefaults.priority,
        validate_seconds: Math.round(validateSeconds * 1000) / 1000,
        enqueue_seconds: Math.round(((performance.now() - started) / 1000 - validateSeconds) * 1000) / 1000,
      };
      if (!wait) {
        write(options.json ? JSON.stringify({ enqueued }) : enqueuedText(enqueued));
        return 0;
      }
      const summary = await results(redis, config, input.path, lineDefaults, scan.jobs, {
        wait: true,
        out: options.out,
        timeoutSec,
        progress,
      });
      write(
        options.json
          ? JSON.stringify({ enqueued, summary })
          : `${enqueuedText(enqueued)}\n${formatSummary(summary)}`,
      );
      return failedExit(summary);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  } finally {
    await input.cleanup();
  }
}

/** `--via batches`: submit, poll and collect (batch-run.ts), then the same results and summary as live. */
async function viaBatches(
  redis: RedisConnection,
  queue: PromptQueue,
  config: PromptqConfig,
  path: string,
  lineDefaults: LineDefaults,
  scan: Awaited<ReturnType<typeof scanFile>>,
  options: BackfillOptions,
  progress: Progress,
): Promise<number> {
  const log = new Logger(config.log.level);
  const { createAnthropicApiProvider } = await import('../providers/registry.js');
  const provider = await createAnthropicApiProvider(config, log, 'Message Batches');
  // Finished batch requests count in the dashboard's rollups as jobs a worker finished do: the same
  // events, the same subscriber, the same labels, the queue's keys (hash-tagged on a cluster).
  const labels = new Metrics({ labels: config.labels, defaultMetrics: false });
  const rollups = new RollupWriter({
    connection: redis,
    keys: queue.keys,
    retention: config.rollups,
    tenantLabel: (t) => labels.tenantLabel(t),
    modelLabel: (m) => labels.modelLabel(m),
  });
  const events = new PromptqEvents({
    log,
    queueCapacity: config.observers.queueCapacity,
    repeatIntervalMs: config.log.repeatIntervalMs,
  });
  subscribeRollups(events, rollups);
  // Webhooks and event streams hear a batch's jobs as a live worker's (a running worker delivers).
  const notifications = subscribeJobNotifications(events, { connection: redis, keys: queue.keys, config });
  try {
    progress.begin('batches');
    const run = new BatchRun(path, lineDefaults, {
      provider,
      redis,
      queue,
      prices: provider.prices,
      retry: options.batchRetry,
      batchSize: options.batchSize,
      keepCompletedSeconds: config.jobs.keepCompletedSeconds,
      keepFailedSeconds: config.jobs.keepFailedSeconds,
      events,
      onBatch: (e) =>
        e.event === 'gone'
          ? log.warn(goneText(e.id, e.requests ?? 0, options.batchRetry), { batch_id: e.id })
          : log.info(`message batch ${e.event}`, { batch_id: e.id, requests: e.requests }),
      onProgress: (p) =>
        progress.update({
          phase: 'batches',
          done: p.succeeded + p.errored + p.expired + p.canceled,
          total: p.submitted,
          failed: p.errored,
          counts: {
            batches: p.batches,
            submitted: p.submitted,
            processing: p.processing,
            succeeded: p.succeeded,
            errored: p.errored,
            expired: p.expired,
            canceled: p.canceled,
          },
        }),
    });
    const batches = await run.run();
    progress.done({
      phase: 'batches',
      done: batches.succeeded + batches.errored + batches.expired + batches.canceled,
      total: batches.succeeded + batches.errored + batches.expired + batches.canceled,
    });
    const wait = options.wait || options.out !== undefined;
    if (!wait && batches.retried_live + batches.over_budget_live > 0) {
      write(options.json ? JSON.stringify({ batches }) : batchesText(batches));
      return 0;
    }
    const summary = await results(redis, config, path, lineDefaults, scan.jobs, {
      wait: true,
      out: options.out,
      timeoutSec: options.timeout,
      progress,
    });
    write(
      options.json
        ? JSON.stringify({ batches, summary })
        : `${batchesText(batches)}\n${formatSummary(summary)}`,
    );
    return failedExit(summary);
  } finally {
    await events.idle();
    events.close();
    await notifications.close();
    await provider.close();
  }
}

/** One line for a batch the API no longer knows: what happened, what becomes of its requests. */
export function goneText(id: string, requests: number, retry: BatchRetry): string {
  const what =
    retry === 'live'
      ? 'are sent again through the live queue (--batch-retry live)'
      : retry === 'batches'
        ? 'are sent again in a follow-up batch (--batch-retry batches)'
        : 'end failed as expired (--batch-retry none; live or batches would send them again)';
  return `message batch ${id} is no longer known to the API (expired, deleted, or made with another API key or by a simulator that is gone): its ${requests} requests ${what}`;
}

function batchesText(b: BatchRunSummary): string {
  const c = (x: number) => x.toLocaleString('en-US');
  return [
    `message batches: ${c(b.batches)}; submitted ${c(b.submitted)} requests, ${c(b.resumed)} resumed from an earlier run, ${c(b.already_there)} already in the queue`,
    `batch results: succeeded ${c(b.succeeded)}, errored ${c(b.errored)}, expired ${c(b.expired)}, canceled ${c(b.canceled)}; sent again: ${c(b.retried_live)} live, ${c(b.retried_batch)} in follow-up batches${b.over_budget_live > 0 ? `; ${c(b.over_budget_live)} over their tenant's budget sent live (the worker waits or fails them)` : ''}`,
  ].join('\n');
}

function enqueuedText(e: {
  jobs: number;
  added: number;
  already_there: number;
  invalid_skipped: number;
  queue: string;
  priority: number;
}): string {
  return `enqueued into "${e.queue}" at priority ${e.priority}: ${e.added.toLocaleString('en-US')} added, ${e.already_there.toLocaleString('en-US')} already there${e.invalid_skipped > 0 ? `, ${e.invalid_skipped} invalid lines skipped` : ''}`;
}

async function dryRun(
  config: PromptqConfig,
  path: string,
  lineDefaults: LineDefaults,
  scan: Awaited<ReturnType<typeof scanFile>>,
  limits: { rpm?: number | undefined; itpm?: number | undefined; otpm?: number | undefined },
  countTokens: boolean,
  json: boolean,
): Promise<number> {
  const prices = PriceTable.load(config.pricingFile);
  // Observed output ratios are a bonus: a dry run works offline too.
  let ratios: Awaited<ReturnType<typeof observedOutputRatios>> | undefined;
  let tenants: TenantWithSpend[] | undefined;
  const redis = await connect(config, 1000).catch(() => undefined);
  if (redis) {
    const queue = new PromptQueue({ ...config, connection: redis });
    try {
      ratios = await observedOutputRatios(queue.queue);
      if (scan.byTenant.size > 0) tenants = await new TenantStore(redis, queue.keys).list();
    } finally {
      await queue.close();
      redis.disconnect();
    }
  }
  let counted: Map<string, number> | undefined;
  if (countTokens) {
    // The SDK is loaded only for --count-tokens: enqueueing never calls the API.
    const { createAnthropicApiProvider } = await import('../providers/registry.js');
    const provider = await createAnthropicApiProvider(config, new Logger(config.log.level), 'token counting');
    try {
      counted = await countInputTokens(provider, path, lineDefaults);
    } finally {
      await provider.close();
    }
  }
  const e = estimate(scan, prices, {
    ...(ratios ? { ratios } : {}),
    ...(counted ? { counted } : {}),
    limits,
  });
  // Budgets live in Redis: without it the dry run says nothing about them.
  const budgets = tenants ? budgetFits(scan, prices, tenants, ratios) : undefined;
  if (json) write(JSON.stringify(budgets ? { ...e, budgets } : e));
  else write(budgets?.length ? `${formatEstimate(e)}\n${formatBudgetFits(budgets)}` : formatEstimate(e));
  return 0;
}

/** The flags of `promptq results` (parsed by results.ts). */
