/**
 * `promptq enqueue [--model M] [--max-tokens N] [--tenant T] [--priority P] [--id ID] [--system S]
 * [--wait] [--timeout SEC] PROMPT`: one job; prints its id (with `--wait`, the job's JSON view).
 * `--body JSON|@FILE` takes a whole job body instead (tools, thinking, images, … as in the HTTP API).
 */
import { readFileSync } from 'node:fs';
import { type PromptqConfig, topologyOf } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { ValidationError } from '../core/job.js';
import { type Cli, loadContext } from './context.js';
import { wholeNumber } from './options.js';

interface EnqueueOptions {
  model: string;
  maxTokens: number;
  tenant?: string;
  priority?: number;
  id?: string;
  system?: string;
  wait: boolean;
  timeout: number;
  body?: string;
}

/** `--body`: JSON text, or `@FILE` (`@-` for stdin). */
function readBody(arg: string): Record<string, unknown> {
  let text = arg;
  if (arg.startsWith('@')) {
    const file = arg.slice(1);
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new UsageError(`--body: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--body: not valid JSON (${(err as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new UsageError('--body: must be a JSON object (a job body)');
  }
  return body as Record<string, unknown>;
}

async function enqueue(
  prompt: string | undefined,
  o: EnqueueOptions,
  config: PromptqConfig,
): Promise<number> {
  if (o.body !== undefined && prompt !== undefined)
    throw new UsageError('give either PROMPT or --body, not both');
  if (o.body === undefined && prompt === undefined) throw new UsageError('missing PROMPT (or --body)');
  // Loaded here: bullmq is what `promptq --help` and the other short commands do without.
  const [{ PromptQueue }, { connectOrFail }] = await Promise.all([
    import('../producer/queue.js'),
    import('../store/connection.js'),
  ]);
  const base = o.body !== undefined ? readBody(o.body) : { model: o.model, max_tokens: o.maxTokens, prompt };
  const body = {
    ...base,
    ...(o.tenant !== undefined ? { tenant_id: o.tenant } : {}),
    ...(o.priority !== undefined ? { priority: o.priority } : {}),
    ...(o.id !== undefined ? { id: o.id } : {}),
    ...(o.system !== undefined ? { system: o.system } : {}),
  };
  const connection = await connectOrFail(topologyOf(config), {
    timeoutMs: 3000,
    hint: 'is promptq start running?',
  });
  // The queue reads its settings (job limits, models, retention) from the config.
  const q = new PromptQueue({ ...config, connection });
  try {
    const added = await q.add(body).catch((err: unknown) => {
      if (err instanceof ValidationError) throw new UsageError(`invalid job: ${err.message}`, { cause: err });
      throw err;
    });
    if (!o.wait) {
      process.stdout.write(`${added.id}\n`);
      return 0;
    }
    // Ids are per tenant: the job is read back in its tenant's namespace.
    const tenant = (body as { tenant_id?: unknown }).tenant_id;
    const ref = { id: added.id, tenant: typeof tenant === 'string' ? tenant : undefined };
    const view = await q.wait(ref, o.timeout * 1000);
    process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    if (view?.state === 'completed') return 0;
    if (view?.state !== 'failed')
      process.stderr.write(`promptq: job ${added.id} not finished after ${o.timeout}s\n`);
    return 1;
  } finally {
    await q.close();
    connection.disconnect();
  }
}

export function registerEnqueue(cli: Cli): void {
  cli.program
    .command('enqueue')
    .description('enqueue one job; prints its id (with --wait, the result JSON)')
    .argument('[PROMPT]', 'the prompt, sent as one user message (quote it)')
    .option(
      '--body <JSON|@FILE>',
      'a whole job body (docs/reference/job.md) instead of PROMPT, --model and --max-tokens',
    )
    .option('--model <M>', 'the model', 'claude-haiku-4-5')
    .option('--max-tokens <N>', 'max_tokens', wholeNumber('max-tokens'), 1024)
    .option('--tenant <T>', 'tenant_id (also sent as metadata.user_id, unless the body has its own)')
    .option('--priority <P>', 'priority, 1 = highest', wholeNumber('priority'))
    .option('--id <ID>', 'idempotency key: the same id again returns the existing job')
    .option('--system <S>', 'a system prompt')
    .option('--wait', 'wait for the result and print the job as JSON', false)
    .option('--timeout <SEC>', 'with --wait: give up after SEC seconds', wholeNumber('timeout'), 600)
    .action(async (prompt: string | undefined, o: EnqueueOptions) => {
      const { config } = loadContext();
      cli.exit(await enqueue(prompt, o, config));
    });
}
