/**
 * `promptq webhooks list [--failed] [--json]` and `promptq webhooks retry ID`: the queue's webhook
 * deliveries (ops/webhooks/deliveries.ts) — pending, delivered and dead-lettered — and replaying one
 * under its same `webhook-id`. A receiver shows as its origin only (a URL's path or query may hold a
 * token).
 */
import { type PromptqConfig, topologyOf } from '../core/config.js';
import { textTable } from '../core/format.js';
import type { DeliveryView, WebhookDeliveries } from '../ops/webhooks/deliveries.js';
import { type Cli, loadContext } from './context.js';

async function withDeliveries<T>(config: PromptqConfig, f: (d: WebhookDeliveries) => Promise<T>): Promise<T> {
  const [{ connectOrFail }, { keyspaceOf }, { WebhookDeliveries }] = await Promise.all([
    import('../store/connection.js'),
    import('../store/keys.js'),
    import('../ops/webhooks/deliveries.js'),
  ]);
  const redis = await connectOrFail(topologyOf(config), { maxRetriesPerRequest: 1, timeoutMs: 3000 });
  const deliveries = new WebhookDeliveries(redis, keyspaceOf(config), config.webhooks, {
    completed: config.jobs.keepCompletedSeconds,
    failed: config.jobs.keepFailedSeconds,
  });
  try {
    return await f(deliveries);
  } finally {
    await deliveries.close();
    redis.disconnect();
  }
}

export function deliveriesTable(list: readonly DeliveryView[]): string {
  if (list.length === 0) return 'no webhook deliveries';
  return textTable(
    ['webhook-id', 'job', 'event', 'state', 'attempts', 'receiver', 'finished', 'last error'],
    list.map((d) => [
      d.id,
      d.job_id,
      d.event,
      d.state,
      String(d.attempts),
      d.receiver,
      d.finished_at ?? '-',
      d.last_error ?? '-',
    ]),
  );
}

export function registerWebhooks(cli: Cli): void {
  const webhooks = cli.program
    .command('webhooks')
    .description("job webhooks' deliveries: list them, replay one");
  webhooks
    .command('list', { isDefault: true })
    .description('the latest deliveries (pending, delivered, dead-lettered)')
    .option('--failed', 'only the dead-lettered ones', false)
    .option('--json', 'print JSON', false)
    .action(async (options: { failed: boolean; json: boolean }) => {
      const { config } = loadContext();
      const list = await withDeliveries(config, (d) => d.list(options.failed));
      process.stdout.write(
        options.json ? `${JSON.stringify(list, null, 2)}\n` : `${deliveriesTable(list)}\n`,
      );
      cli.exit(0);
    });
  webhooks
    .command('retry')
    .description('deliver again, under the same webhook-id (a dead-lettered or delivered one)')
    .argument('<ID>', 'the webhook-id (`promptq webhooks list`)')
    .action(async (id: string) => {
      const { config } = loadContext();
      const done = await withDeliveries(config, (d) => d.retry(id));
      if (done) process.stdout.write(`webhook ${id}: queued for delivery again\n`);
      else process.stderr.write(`promptq: no finished delivery "${id}" (see promptq webhooks list)\n`);
      cli.exit(done ? 0 : 1);
    });
}
