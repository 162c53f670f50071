/**
 * `promptq report [--since 24h] [--json]`: latency, errors, tokens and cost per model and tenant,
 * the month-end projection and the slowest calls, from the rollups workers keep in Redis (the same
 * figures as the dashboard, through the same function).
 */
import { type PromptqConfig, topologyOf } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { type Cli, loadContext } from './context.js';

interface ReportOptions {
  since: string;
  json: boolean;
}

async function report(options: ReportOptions, config: PromptqConfig): Promise<number> {
  const { parseSince, readDashboard } = await import('../ops/dashboard/summary.js');
  let minutes: number;
  try {
    minutes = parseSince(options.since);
  } catch (err) {
    throw new UsageError(`--since: ${(err as Error).message.replace(/^since: /, '')}`);
  }
  const [{ connectOrFail }, { keyspaceOf }, { formatReport }] = await Promise.all([
    import('../store/connection.js'),
    import('../store/keys.js'),
    import('../ops/dashboard/report.js'),
  ]);
  const redis = await connectOrFail(topologyOf(config), {
    maxRetriesPerRequest: 1,
    timeoutMs: 5000,
    hint: "set REDIS_URL to the queue's Redis",
  });
  try {
    const keys = keyspaceOf(config);
    const data = await readDashboard(redis, keys, minutes);
    process.stdout.write(
      options.json ? `${JSON.stringify(data, null, 2)}\n` : formatReport(data, config.queue, options.since),
    );
    return 0;
  } finally {
    redis.disconnect();
  }
}

export function registerReport(cli: Cli): void {
  cli.program
    .command('report')
    .description(
      'latency, errors, tokens and cost per model/tenant, month-end projection, slowest calls (from the rollups workers keep in Redis)',
    )
    .option('--since <DURATION>', 'the window, from 1m to 26h (e.g. 30m, 1h)', '24h')
    .option('--json', 'print the figures as JSON', false)
    .action(async (options: ReportOptions) => {
      const { config } = loadContext();
      cli.exit(await report(options, config));
    });
}
