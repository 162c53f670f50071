/**
 * `promptq backfill FILE.jsonl|- [flags]`: one job per line (job bodies or Message Batches
 * requests), enqueued idempotently; `--dry-run` estimates cost and time instead. The work is in
 * backfill-run.ts, loaded only when the command runs.
 */

import { defaults } from '../core/defaults.js';
import type { BackfillOptions } from './backfill-run.js';
import { type Cli, loadContext } from './context.js';
import { duration, idPrefix, oneOf, wholeNumber } from './options.js';

export function registerBackfill(cli: Cli): void {
  cli.program
    .command('backfill')
    .description('enqueue one job per line (job bodies or Message Batches requests), idempotently')
    .argument('<FILE>', 'a .jsonl file, or - for stdin')
    .option('--out <FILE>', 'wait, then write one result line per input line, in input order')
    .option('--wait', 'wait until every job has finished', false)
    .option('--dry-run', 'validate and estimate cost and time; enqueue nothing', false)
    .option('--skip-invalid', 'enqueue the valid lines even when some are invalid', false)
    .option('--tenant <T>', 'tenant_id for lines that name none')
    .option(
      '--priority <P>',
      'priority for lines that name none (1 = highest)',
      wholeNumber('priority', { min: 1, max: 1000 }),
      defaults.backfill.priority,
    )
    .option('--count-tokens', 'with --dry-run: count input tokens with the API (free)', false)
    .option(
      '--rpm <N>',
      'with --dry-run: requests per minute, for the time estimate',
      wholeNumber('rpm', { min: 1, max: 1e9 }),
    )
    .option(
      '--itpm <N>',
      'with --dry-run: input tokens per minute',
      wholeNumber('itpm', { min: 1, max: 1e12 }),
    )
    .option(
      '--otpm <N>',
      'with --dry-run: output tokens per minute',
      wholeNumber('otpm', { min: 1, max: 1e12 }),
    )
    .option('--chunk <N>', 'jobs per Redis round trip', wholeNumber('chunk', { min: 1, max: 10_000 }), 1000)
    .option('--id-prefix <P>', 'prefix of the job ids made from line numbers or custom_id', idPrefix, '')
    .option(
      '--timeout <SEC>',
      'with --wait/--out: give up after SEC seconds',
      wholeNumber('timeout', { min: 1, max: 1e9 }),
    )
    .option(
      '--via <MODE>',
      'live (the queue), batches (the Message Batches API: half the price, results within 24 h) or auto',
      oneOf('via', ['live', 'batches', 'auto']),
      'live',
    )
    .option(
      '--deadline <DURATION>',
      'with --via auto: results needed within this long (e.g. 90m, 6h); under 24 h means live',
      duration('deadline'),
    )
    .option(
      '--batch-retry <WHERE>',
      'with --via batches: errored and expired requests go to live (the queue), batches (a follow-up batch) or none',
      oneOf('batch-retry', ['live', 'batches', 'none']),
      'live',
    )
    .option(
      '--batch-size <N>',
      'with --via batches: requests per batch',
      wholeNumber('batch-size', { min: 1, max: 100_000 }),
      defaults.backfill.batchSize,
    )
    .option('--json', 'print the summary as JSON', false)
    .action(async (file: string, o: BackfillOptions) => {
      const { config } = loadContext();
      const { runBackfill } = await import('./backfill-run.js');
      const interrupted = onInterrupt(file, o);
      try {
        cli.exit(await runBackfill(file, o, config));
      } finally {
        interrupted.off();
      }
    });
}

/**
 * Ctrl-C (or SIGTERM) during a backfill: say how to pick it up again, then exit 130. Nothing is
 * lost: what was enqueued or submitted is found by the same command, which adds only what is missing.
 */
function onInterrupt(file: string, o: BackfillOptions): { off: () => void } {
  const handler = (signal: NodeJS.Signals) => {
    const what = o.dryRun ? 'nothing was enqueued' : 'what was enqueued or submitted stays';
    process.stderr.write(
      `\npromptq: interrupted (${signal}); ${what}: run the same command again (promptq backfill ${file} …) to resume\n`,
    );
    process.exit(130);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return {
    off: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
