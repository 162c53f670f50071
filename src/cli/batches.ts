/**
 * `promptq batches list | show ID | cancel ID`: the Message Batches promptq submitted for this queue
 * (`backfill --via batches`), with their progress: the API's live state where it still knows the
 * batch, else what promptq saw last (Redis, store/batch-store.ts).
 */
import { ConfigError, type PromptqConfig, topologyOf } from '../core/config.js';
import { PromptqError } from '../core/errors.js';
import { formatCount } from '../core/format.js';
import { Logger } from '../core/log.js';
import type { Batches, BatchInfo } from '../providers/provider.js';
import { type Cli, loadContext } from './context.js';
import { wholeNumber } from './options.js';

/** One batch as the commands show it. */
export interface BatchView {
  id: string;
  created_at: string;
  /** `in_progress`, `canceling` or `ended` (`unknown`: the API no longer has it). */
  status: string;
  /** 0 = first submission, 1+ = follow-ups of errored or expired requests. */
  round: number;
  requests: number;
  counts: Record<string, number> | null;
  /** Its results are written into the queue. */
  collected: boolean;
  ended_at: string | null;
}

function progressText(b: BatchView): string {
  const c = b.counts;
  if (c === null) return `${formatCount(b.requests)} requests`;
  const done = b.requests - (c.processing ?? 0);
  const pct = b.requests > 0 ? Math.floor((100 * done) / b.requests) : 100;
  return `${formatCount(done)}/${formatCount(b.requests)} (${pct}%)  processing ${formatCount(c.processing ?? 0)} succeeded ${formatCount(c.succeeded ?? 0)} errored ${formatCount(c.errored ?? 0)} expired ${formatCount(c.expired ?? 0)} canceled ${formatCount(c.canceled ?? 0)}`;
}

function line(b: BatchView): string {
  const flags = [b.round > 0 ? `follow-up ${b.round}` : '', b.collected ? 'collected' : ''].filter(Boolean);
  return `${b.id}  ${b.created_at}  ${b.status.padEnd(11)}  ${progressText(b)}${flags.length > 0 ? `  [${flags.join(', ')}]` : ''}`;
}

async function withBatches(
  config: PromptqConfig,
  log: Logger,
  run: (t: {
    view: (id: string) => Promise<BatchView | null>;
    ids: (limit: number) => Promise<string[]>;
    api: Batches;
    known: (id: string) => Promise<boolean>;
  }) => Promise<number>,
): Promise<number> {
  const { connectOrFail } = await import('../store/connection.js');
  const { keyspaceOf } = await import('../store/keys.js');
  const store = await import('../store/batch-store.js');
  const { createAnthropicApiProvider } = await import('../providers/registry.js');
  // Any topology (a cluster's keys are hash-tagged): the keys the backfill wrote.
  const redis = await connectOrFail(topologyOf(config), { timeoutMs: 3000 });
  const keys = keyspaceOf(config);
  // A short command's output is plain text: the provider's notices (the built-in simulator's, when
  // there is no key) are not worth a JSON line in it; its errors still are.
  const provider = await createAnthropicApiProvider(
    config,
    config.log.level === 'debug' ? log : new Logger('error'),
    'Message Batches',
  ).catch((err: unknown) => {
    redis.disconnect();
    throw err;
  });
  const api = provider.batches;
  if (api === undefined) {
    redis.disconnect();
    await provider.close();
    throw new ConfigError('provider', `"${provider.name}" has no Message Batches API`);
  }
  const view = async (id: string): Promise<BatchView | null> => {
    const stored = await store.loadBatch(redis, keys, id);
    if (stored === null) return null;
    const live: BatchInfo | null = await api.retrieve(id);
    if (live !== null) {
      await store.updateBatch(redis, keys, id, { status: live.status, counts: { ...live.counts } });
    }
    return {
      id,
      created_at: stored.created_at,
      status: live?.status ?? (stored.status === 'ended' ? 'ended' : 'unknown'),
      round: stored.round,
      requests: stored.requests,
      counts: live ? { ...live.counts } : stored.counts,
      collected: stored.collected,
      ended_at: live?.endedAt ?? null,
    };
  };
  try {
    return await run({
      view,
      ids: (limit) => store.listBatchIds(redis, keys, limit),
      api,
      known: async (id) => (await store.loadBatch(redis, keys, id)) !== null,
    });
  } finally {
    redis.disconnect();
    await provider.close();
  }
}

const write = (s: string) => process.stdout.write(`${s}\n`);

/** A batch promptq did not submit for this queue: exit 1, as an unknown tenant. */
const notOurs = (id: string, queue: string) =>
  new PromptqError(`no batch ${id} was submitted by promptq for queue "${queue}"`, {
    code: 'batch_not_found',
    exitCode: 1,
  });

/** One line for a batch promptq submitted that the API no longer knows, and what it means. */
export const goneFromApi = (id: string) =>
  `batch ${id} is no longer known to the API (expired, deleted, or made with another API key or by a simulator that is gone); a backfill of its file sends its requests again, as --batch-retry says`;

export function registerBatches(cli: Cli): void {
  const batches = cli.program
    .command('batches')
    .description('the Message Batches promptq submitted (backfill --via batches): list, show, cancel');

  batches
    .command('list')
    .description('the newest batches first, with their progress')
    .option('--limit <N>', 'at most N batches', wholeNumber('limit', { min: 1, max: 10_000 }), 20)
    .option('--json', 'one JSON object per batch', false)
    .action(async (options: { limit: number; json: boolean }) => {
      const { config, log } = loadContext();
      cli.exit(
        await withBatches(config, log, async ({ ids, view }) => {
          const list = await ids(options.limit);
          if (list.length === 0 && !options.json) write(`no message batches for queue "${config.queue}"`);
          for (const id of list) {
            const b = await view(id);
            if (b) write(options.json ? JSON.stringify(b) : line(b));
          }
          return 0;
        }),
      );
    });

  batches
    .command('show')
    .description('one batch and its progress')
    .argument('<ID>', 'the batch id (msgbatch_…; with several anthropic accounts <account>/<id>+…)')
    .option('--json', 'as JSON', false)
    .action(async (id: string, options: { json: boolean }) => {
      const { config, log } = loadContext();
      cli.exit(
        await withBatches(config, log, async ({ view }) => {
          const b = await view(id);
          if (b === null) throw notOurs(id, config.queue);
          write(options.json ? JSON.stringify(b) : line(b));
          if (b.status === 'unknown' && !options.json) write(goneFromApi(id));
          return 0;
        }),
      );
    });

  batches
    .command('cancel')
    .description('cancel a batch: requests not yet processed end canceled (a running backfill reports them)')
    .argument('<ID>', 'the batch id (msgbatch_…; with several anthropic accounts <account>/<id>+…)')
    .option('--json', 'as JSON', false)
    .action(async (id: string, options: { json: boolean }) => {
      const { config, log } = loadContext();
      cli.exit(
        await withBatches(config, log, async ({ view, known, api }) => {
          if (!(await known(id))) throw notOurs(id, config.queue);
          if ((await api.retrieve(id)) === null)
            throw new PromptqError(`${goneFromApi(id)}: nothing to cancel`, {
              code: 'batch_gone',
              exitCode: 1,
            });
          await api.cancel(id);
          const b = await view(id);
          if (b) write(options.json ? JSON.stringify(b) : line(b));
          return 0;
        }),
      );
    });
}
