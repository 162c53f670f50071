/**
 * `promptq backfill FILE.jsonl|- [flags]`: one job per line (job bodies or Message Batches
 * requests), enqueued idempotently; `--dry-run` estimates cost and time instead. The work is in
 * backfill-run.ts, loaded only when the command runs.
 */
import type { BackfillOptions } from './backfill-run.js';
import { type Cli, loadContext } from './context.js';
import { defaultBackfillPriority, idPrefix, wholeNumber } from './options.js';

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
      defaultBackfillPriority,
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
    .option('--json', 'print the summary as JSON', false)
    .action(async (file: string, o: BackfillOptions) => {
      const { config } = loadContext();
      const { runBackfill } = await import('./backfill-run.js');
      cli.exit(await runBackfill(file, o, config));
    });
}
