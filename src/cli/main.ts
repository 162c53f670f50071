/**
 * `promptq <command>`: the program (commander), one file per command in this folder. Each command
 * loads what it needs when it runs, so `--help` and the short commands stay light.
 *
 * Exit codes: 0 ok, 1 job/run failure, 2 usage or configuration error (one-line reason on stderr,
 * `promptq: …`). A {@link PromptqError} carries its own exit code; anything else is a failure (1).
 */
import { Command, CommanderError } from 'commander';
import { PromptqError } from '../core/errors.js';
import { Logger } from '../core/log.js';
import { registerBackfill } from './backfill.js';
import { registerBatches } from './batches.js';
import { registerBench } from './bench.js';
import { type Cli, packageVersion } from './context.js';
import { registerEnqueue } from './enqueue.js';
import { registerPauseResume } from './pause.js';
import { registerProbe } from './probe.js';
import { registerReport } from './report.js';
import { registerResults } from './results.js';
import { registerServe } from './serve.js';
import { registerSimulate } from './simulate.js';
import { registerTenants } from './tenants.js';
import { registerWebhooks } from './webhooks.js';

const environment = `
Environment: REDIS_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, PROMPTQ_QUEUE, HOST, PORT,
PROMPTQ_AUTH_TOKEN, PROMPTQ_CONCURRENCY, … (see docs/reference/environment.md).`;

/** The whole command line; `exit` receives the exit code of the command that ran. */
export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command('promptq')
    .description('promptq — a resilient job queue for Claude API calls')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print help')
    .helpCommand('help [command]', 'print help for a command')
    .addHelpText('after', environment)
    // Flags after a command belong to that command (simulate and bench pass theirs on).
    .enablePositionalOptions()
    .exitOverride()
    // Commander's own error lines are replaced by one `promptq: …` line (see main).
    .configureOutput({ outputError: () => {} });
  const cli: Cli = { program, exit };
  for (const register of [
    registerServe,
    registerEnqueue,
    registerPauseResume,
    registerBackfill,
    registerResults,
    registerBatches,
    registerProbe,
    registerReport,
    registerSimulate,
    registerBench,
    registerTenants,
    registerWebhooks,
  ])
    register(cli);
  return program;
}

function fail(code: number, message: string): number {
  process.stderr.write(`promptq: ${message}\n`);
  return code;
}

/** The CLI entry: returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  if (argv.length === 0) {
    // No command is a usage error, but the help is what the user needs to see.
    program.outputHelp();
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      if (err.exitCode === 0) return 0;
      const reason = err.message
        .replace(/^error: /, '')
        .split('\n')
        .join(' ');
      return fail(2, `${reason} (try promptq --help)`);
    }
    if (err instanceof PromptqError) return fail(err.exitCode, err.message);
    if ((err as { code?: string }).code === 'EADDRINUSE')
      return fail(2, `${(err as Error).message} (set PORT)`);
    return fail(1, Logger.scrub((err as Error).stack ?? String(err)));
  }
}
