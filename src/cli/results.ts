/**
 * `promptq results FILE.jsonl|- [flags]`: a backfill's results, one line per input line, in input
 * order (on stdout, or in `--out FILE`); the summary follows.
 */

import { type Cli, loadContext } from './context.js';
import { idPrefix, wholeNumber } from './options.js';
import type { ResultsOptions } from './results-run.js';

export function registerResults(cli: Cli): void {
  cli.program
    .command('results')
    .description("a backfill's results, one line per input line, in input order")
    .argument('<FILE>', 'the backfill input (.jsonl), or - for stdin')
    .option('--out <FILE>', 'write the result lines here (default: stdout, the summary on stderr)')
    .option('--wait', 'wait until every job has finished', false)
    .option(
      '--timeout <SEC>',
      'with --wait: give up after SEC seconds',
      wholeNumber('timeout', { min: 1, max: 1e9 }),
    )
    .option('--id-prefix <P>', 'the --id-prefix the backfill used', idPrefix, '')
    .option('--tenant <T>', 'the --tenant the backfill used (ids are per tenant)')
    .option('--json', 'print the summary as JSON', false)
    .action(async (file: string, o: ResultsOptions) => {
      const { config } = loadContext();
      const { runResults } = await import('./results-run.js');
      cli.exit(await runResults(file, o, config));
    });
}
