/**
 * `promptq bench [--scenario S1,...] [--jobs N] [--quick]`: the benchmarks. The harness
 * (scripts/bench/) is a development tool: it is not part of the build, so this command loads it
 * from the source checkout through tsx (a dev dependency), at a path the compiler does not follow.
 * An installed promptq (no scripts/, no tsx) says so and exits 2; `npm run bench` runs the same
 * harness straight from source.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { type Cli, packageRoot } from './context.js';

const notHere =
  'bench runs from a source checkout only (the benchmark harness is not installed): clone promptq, npm install, npm run bench';

async function bench(flags: string[], help: () => string): Promise<number> {
  const harness = join(packageRoot(), 'scripts', 'bench', 'bench.ts');
  if (!existsSync(harness)) {
    // `--help` still answers (with what there is to know: where the harness lives).
    if (flags.includes('--help') || flags.includes('-h')) {
      process.stdout.write(`${help()}\n${notHere}\n`);
      return 0;
    }
    throw new UsageError(notHere);
  }
  const tsx = await import('tsx/esm/api').catch(() => {
    throw new UsageError(`${notHere} (tsx, a dev dependency, is missing)`);
  });
  const { benchCommand } = (await tsx.tsImport(pathToFileURL(harness).href, import.meta.url)) as {
    benchCommand: (argv: string[]) => Promise<number>;
  };
  return benchCommand(flags);
}

export function registerBench(cli: Cli): void {
  cli.program
    .command('bench')
    .description('benchmarks against the simulator, in a source checkout (--help for all flags)')
    .usage('[--scenario S1,...] [--jobs N] [--quick]')
    .argument('[flags...]')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (flags: string[], _options: unknown, command: Command) => {
      cli.exit(await bench(flags, () => command.helpInformation()));
    });
}
