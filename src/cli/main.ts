/**
 * `promptq <command>`: commands → the functions that do the work. Exit codes: 0 ok, 1 job/run
 * failure, 2 usage or configuration error (one-line reason on stderr).
 */
import { parseArgs } from 'node:util';
import { runSimulateCommand } from '../../packages/anthropic-simulator/src/index.js';
import { ConfigError, jobLimitsFrom, loadConfig, type PromptqConfig, redactUrl } from '../core/config.js';
import { ValidationError } from '../core/job.js';
import { Logger } from '../core/log.js';
import type { ServiceParts } from '../ops/service.js';
import { PromptQueue } from '../producer/queue.js';
import { BackfillUsageError, runBackfillCommand, runResultsCommand } from './backfill.js';

export const usage = `promptq — a resilient job queue for Claude API calls

Usage:
  promptq start                 HTTP API + Bull Board + /metrics + a worker, in one process
  promptq worker                a worker only (run many, on many machines, against one Redis)
  promptq api                   HTTP API + Bull Board + /metrics only
  promptq enqueue [--model M] [--max-tokens N] [--tenant T] [--priority P] [--id ID] [--system S] [--wait] [--timeout SEC] PROMPT
                                enqueue one job; prints its id (with --wait, the result JSON)
  promptq pause | resume        stop / restart every worker taking jobs (a spend-limit 429 pauses the queue)
  promptq backfill FILE.jsonl|- [--out FILE] [--wait] [--dry-run] [--skip-invalid] [--tenant T] [--priority P]
                   [--count-tokens] [--rpm N --itpm N --otpm N] [--chunk N] [--id-prefix P] [--timeout SEC] [--json]
                                enqueue one job per line (job bodies or Message Batches requests), idempotently
  promptq results FILE.jsonl|- [--out FILE] [--wait] [--timeout SEC] [--id-prefix P] [--json]
                                a backfill's results, one line per input line, in input order
  promptq probe [--count N] [--url URL]
                                time DNS, TCP, TLS and a minimal request to the API endpoint
  promptq report [--since 24h] [--json]
                                latency, errors, tokens and cost per model/tenant, month-end
                                projection, slowest calls (from the rollups workers keep in Redis)
  promptq simulate [--port P] [--rpm N] [--itpm N] [--otpm N] ...
                                the Anthropic-compatible API simulator on its own (--help for all flags)
  promptq bench [--scenario S1,...] [--jobs N] [--quick]
                                benchmarks against the simulator (--help for all flags)

Environment: REDIS_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, PROMPTQ_QUEUE, HOST, PORT,
PROMPTQ_AUTH_TOKEN, PROMPTQ_CONCURRENCY (see README.md).`;

class UsageError extends Error {}

function fail(code: number, message: string): number {
  process.stderr.write(`promptq: ${message}\n`);
  return code;
}

/** Run a long-lived service until SIGTERM/SIGINT: the first signal drains, a second forces. */
async function serve(config: PromptqConfig, parts: ServiceParts, log: Logger): Promise<number> {
  // Loaded here: the service (express, Bull Board, the SDK, …) is what the short commands do without.
  const { runService } = await import('../ops/service.js');
  const svc = await runService(config, parts, log);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        log.info('shutting down: no new jobs; waiting for in-flight jobs (send the signal again to force)', {
          signal: sig,
          timeout_ms: config.shutdownTimeoutMs,
        });
        svc.close().then(
          () => {
            log.info('stopped');
            resolve(0);
          },
          (err: Error) => {
            log.error('shutdown failed', { error: err.message });
            resolve(1);
          },
        );
      } else {
        log.warn('forced shutdown: in-flight jobs will be picked up again by another worker', {
          signal: sig,
        });
        // Bounded: a forced stop must not hang on an unreachable Redis.
        const bound = setTimeout(() => resolve(1), 3000);
        void svc.close(true).finally(() => {
          clearTimeout(bound);
          resolve(1);
        });
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

async function enqueue(argv: string[], config: PromptqConfig): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', default: 'claude-haiku-4-5' },
      'max-tokens': { type: 'string', default: '1024' },
      tenant: { type: 'string' },
      priority: { type: 'string' },
      id: { type: 'string' },
      system: { type: 'string' },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '600' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('enqueue takes exactly one PROMPT (quote it)');
  const num = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${flag}: expected a whole number, got "${v}"`);
    return Number(v);
  };
  const body = {
    model: values.model,
    max_tokens: num('max-tokens', values['max-tokens']),
    prompt: positionals[0],
    ...(values.tenant !== undefined ? { tenant_id: values.tenant } : {}),
    ...(values.priority !== undefined ? { priority: num('priority', values.priority) } : {}),
    ...(values.id !== undefined ? { id: values.id } : {}),
    ...(values.system !== undefined ? { system: values.system } : {}),
  };
  const timeoutSec = num('timeout', values.timeout) ?? 600;
  const q = new PromptQueue({
    redisUrl: config.redisUrl,
    queue: config.queue,
    jobLimits: jobLimitsFrom(config),
  });
  q.connection.on('error', () => {});
  try {
    await Promise.race([
      q.connection.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000)),
    ]).catch(() => {
      throw new ConfigError(
        'REDIS_URL',
        `cannot reach Redis at ${redactUrl(config.redisUrl)} (is promptq start running?)`,
      );
    });
    const added = await q.add(body);
    if (!values.wait) {
      process.stdout.write(`${added.id}\n`);
      return 0;
    }
    const view = await q.wait(added.id, timeoutSec * 1000);
    process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    if (view?.state === 'completed') return 0;
    if (view?.state !== 'failed')
      process.stderr.write(`promptq: job ${added.id} not finished after ${timeoutSec}s\n`);
    return 1;
  } finally {
    await q.close();
  }
}

/** `promptq pause|resume`: stop or restart every worker taking jobs from the queue. */
async function pauseResume(command: 'pause' | 'resume', config: PromptqConfig): Promise<number> {
  const q = new PromptQueue({ redisUrl: config.redisUrl, queue: config.queue });
  q.connection.on('error', () => {});
  try {
    if (command === 'pause') await q.queue.pause();
    else await q.queue.resume();
    process.stdout.write(`queue "${config.queue}" ${command === 'pause' ? 'paused' : 'resumed'}\n`);
    return 0;
  } finally {
    await q.close();
  }
}

/** The CLI entry: returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${usage}\n`);
    return command === undefined ? 2 : 0;
  }
  try {
    if (command === 'simulate') return await runSimulateCommand(rest);
    const config = loadConfig();
    const log = new Logger(config.logLevel);
    Logger.redact(config.anthropicApiKey);
    switch (command) {
      case 'start':
        return await serve(config, { api: true, worker: true, embedRedis: true }, log);
      case 'worker':
        return await serve(config, { api: false, worker: true, embedRedis: false }, log);
      case 'api':
        return await serve(config, { api: true, worker: false, embedRedis: false }, log);
      case 'enqueue':
        return await enqueue(rest, config);
      case 'pause':
      case 'resume':
        return await pauseResume(command, config);
      case 'probe':
        return await (await import('../anthropic/probe.js')).runProbeCommand(rest, config);
      case 'report':
        // Loaded on demand: the long-running commands never need it.
        return await (await import('../ops/dashboard/report.js')).runReportCommand(rest, config);
      case 'backfill':
        return await runBackfillCommand(rest, config);
      case 'results':
        return await runResultsCommand(rest, config);
      case 'bench':
        // Loaded on demand: the benchmark harness is large and only this command needs it.
        return await (await import('../../scripts/bench/bench.js')).benchCommand(rest);
      default:
        return fail(2, `unknown command "${command}" (try promptq --help)`);
    }
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, err.message);
    if (err instanceof UsageError || err instanceof BackfillUsageError) return fail(2, err.message);
    if (err instanceof ValidationError) return fail(2, `invalid job: ${err.message}`);
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return fail(2, (err as Error).message);
    if ((err as { code?: string }).code === 'EADDRINUSE')
      return fail(2, `${(err as Error).message} (set PORT)`);
    return fail(1, Logger.scrub((err as Error).stack ?? String(err)));
  }
}
