/**
 * `promptq simulate [--port P] [--rpm N] [--itpm N] [--otpm N] ...`: the Anthropic-compatible API
 * simulator on its own. The simulator is its own package with its own flags (`--help` lists
 * them), so this command hands it the arguments as they are; it is loaded only when this runs.
 */
import type { Cli } from './context.js';

export function registerSimulate(cli: Cli): void {
  cli.program
    .command('simulate')
    .description('the Anthropic-compatible API simulator on its own (--help for all flags)')
    .usage('[--port P] [--rpm N] [--itpm N] [--otpm N] ...')
    .argument('[flags...]')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (flags: string[]) => {
      const { runSimulateCommand } = await import('@promptq/anthropic-simulator');
      cli.exit(await runSimulateCommand(flags));
    });
}
