/**
 * `promptq probe [--count N] [--url URL]`: times DNS, TCP, TLS and a minimal request
 * (`GET /v1/models`) to the API endpoint, run by run, and prints a table. Without
 * `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` it probes the built-in simulator (and says so).
 */
import type { Simulator } from '@promptq/anthropic-simulator';
import type { PromptqConfig } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { type Cli, loadContext } from './context.js';
import { wholeNumber } from './options.js';

interface ProbeOptions {
  count: number;
  url?: string;
}

async function probe(options: ProbeOptions, config: PromptqConfig): Promise<number> {
  const { formatProbe, probeOnce } = await import('../providers/anthropic/probe.js');
  let sim: Simulator | undefined;
  let target = options.url ?? config.anthropic.baseUrl;
  let apiKey = config.anthropic.apiKey;
  if (target === undefined && apiKey === undefined) {
    const { startSimulator } = await import('@promptq/anthropic-simulator');
    sim = await startSimulator({});
    target = sim.url;
    apiKey = 'sk-ant-simulator-local';
    process.stderr.write('promptq: ANTHROPIC_API_KEY is not set: probing the built-in simulator\n');
  }
  target ??= 'https://api.anthropic.com';
  let base: URL;
  try {
    base = new URL(target);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw new UsageError(`${options.url ? '--url' : 'ANTHROPIC_BASE_URL'}: not an http(s) URL: "${target}"`);
  }
  try {
    const runs: Awaited<ReturnType<typeof probeOnce>>[] = [];
    for (let i = 0; i < options.count; i++) {
      try {
        runs.push(await probeOnce(base, apiKey));
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        process.stderr.write(
          `promptq: probe of ${base.origin} failed: ${e.cause?.code ?? (e as { code?: string }).code ?? ''} ${e.cause?.message ?? e.message}\n`,
        );
        return 1;
      }
    }
    process.stdout.write(formatProbe(base.origin, runs));
    return 0;
  } finally {
    await sim?.close();
  }
}

export function registerProbe(cli: Cli): void {
  cli.program
    .command('probe')
    .description('time DNS, TCP, TLS and a minimal request to the API endpoint')
    .option(
      '--count <N>',
      'number of runs',
      wholeNumber('count', { min: 1, max: 100, message: 'expected a whole number from 1 to 100' }),
      3,
    )
    .option('--url <URL>', 'the endpoint (default: ANTHROPIC_BASE_URL or https://api.anthropic.com)')
    .action(async (options: ProbeOptions) => {
      const { config } = loadContext();
      cli.exit(await probe(options, config));
    });
}
