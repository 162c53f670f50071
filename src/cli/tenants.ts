/**
 * `promptq tenants [list [--json]] | add NAME | set NAME | rotate NAME | revoke NAME`: tenants'
 * credentials and budgets (docs/tenants.md). `add` and `rotate` print the token alone on stdout,
 * the only time it is shown; Redis keeps its SHA-256 digest only.
 */
import type { Command } from 'commander';
import { type PromptqConfig, topologyOf } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { formatUsd, textTable } from '../core/format.js';
import type { RedisConnection } from '../store/connection.js';
import {
  type TenantSettings,
  type TenantStore,
  type TenantWithSpend,
  tenantView,
} from '../store/tenant-store.js';
import { type Cli, loadContext } from './context.js';

interface SettingFlags {
  dailyUsd?: number | 'none';
  monthlyUsd?: number | 'none';
  onExceed?: 'wait' | 'fail';
  rpm?: number | 'none';
  tpm?: number | 'none';
  share?: number | 'none';
}

/** `--daily-usd X`: USD, or `none` to remove the budget (commander turns a parsed `null` into `true`). */
function usd(flag: string): (raw: string) => number | 'none' {
  return (raw) => {
    if (raw === 'none') return raw;
    if (!/^\d+(\.\d+)?$/.test(raw))
      throw new UsageError(`--${flag}: a number of USD or "none", got "${raw}"`);
    return Number(raw);
  };
}

/** `--rpm N`: a whole number per minute, or `none` to remove the quota. */
function perMinute(flag: string): (raw: string) => number | 'none' {
  return (raw) => {
    if (raw === 'none') return raw;
    if (!/^[1-9]\d{0,8}$/.test(raw))
      throw new UsageError(`--${flag}: a whole number per minute or "none", got "${raw}"`);
    return Number(raw);
  };
}

/** `--share F`: a fraction of the discovered limits, 0 < F ≤ 1, or `none` to remove it. */
function share(raw: string): number | 'none' {
  if (raw === 'none') return raw;
  const f = /^\d*\.?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(f > 0 && f <= 1))
    throw new UsageError(`--share: a fraction more than 0 and at most 1, or "none", got "${raw}"`);
  return f;
}

function onExceed(raw: string): 'wait' | 'fail' {
  if (raw !== 'wait' && raw !== 'fail') throw new UsageError(`--on-exceed: wait or fail, got "${raw}"`);
  return raw;
}

function settingOptions(c: Command): Command {
  return c
    .option('--daily-usd <X>', 'budget per UTC day in USD ("none": no daily budget)', usd('daily-usd'))
    .option(
      '--monthly-usd <X>',
      'budget per UTC month in USD ("none": no monthly budget)',
      usd('monthly-usd'),
    )
    .option('--on-exceed <wait|fail>', 'over budget, jobs wait for room (default) or fail', onExceed)
    .option(
      '--rpm <N>',
      'quota: requests per minute, all workers together ("none": no quota)',
      perMinute('rpm'),
    )
    .option(
      '--tpm <N>',
      'quota: tokens per minute, input estimate + max_tokens ("none": no quota)',
      perMinute('tpm'),
    )
    .option(
      '--share <F>',
      'quota: this fraction (0 < F <= 1) of each model group\'s discovered limits ("none": no share)',
      share,
    );
}

function settings(flags: SettingFlags): Partial<TenantSettings> {
  return {
    ...(flags.dailyUsd !== undefined ? { dailyUsd: flags.dailyUsd === 'none' ? null : flags.dailyUsd } : {}),
    ...(flags.monthlyUsd !== undefined
      ? { monthlyUsd: flags.monthlyUsd === 'none' ? null : flags.monthlyUsd }
      : {}),
    ...(flags.onExceed !== undefined ? { onExceed: flags.onExceed } : {}),
    ...(flags.rpm !== undefined ? { rpm: flags.rpm === 'none' ? null : flags.rpm } : {}),
    ...(flags.tpm !== undefined ? { tpm: flags.tpm === 'none' ? null : flags.tpm } : {}),
    ...(flags.share !== undefined ? { share: flags.share === 'none' ? null : flags.share } : {}),
  };
}

/** Run `f` with the queue's tenant store, then close the connection. */
async function withTenants<T>(
  config: PromptqConfig,
  f: (store: TenantStore, redis: RedisConnection) => Promise<T>,
): Promise<T> {
  const [{ connectOrFail }, { TenantStore }, { keyspaceOf }] = await Promise.all([
    import('../store/connection.js'),
    import('../store/tenant-store.js'),
    import('../store/keys.js'),
  ]);
  // Any topology (a cluster's keys are hash-tagged): the keys the API and the workers read.
  const redis = await connectOrFail(topologyOf(config), { maxRetriesPerRequest: 1, timeoutMs: 3000 });
  try {
    return await f(new TenantStore(redis, keyspaceOf(config)), redis);
  } finally {
    redis.disconnect();
  }
}

/** `--webhook-url URL|none`: checked as a job's `webhook.url` is (syntax, then where it points). */
async function setWebhookUrl(
  config: PromptqConfig,
  redis: RedisConnection,
  name: string,
  raw: string,
): Promise<{ secret?: string | undefined }> {
  const [{ webhookUrlProblem }, guard, { TenantWebhooks }, { keyspaceOf }] = await Promise.all([
    import('../core/job-schema.js'),
    import('../events/webhooks/address-guard.js'),
    import('../store/webhook-secrets.js'),
    import('../store/keys.js'),
  ]);
  const url = raw === 'none' ? null : raw;
  if (url !== null) {
    const problem = webhookUrlProblem(url);
    if (problem !== undefined) throw new UsageError(`--webhook-url: ${problem}`);
    await guard.checkWebhookTarget(guard.addressPolicy(config.webhooks), url);
  }
  return new TenantWebhooks(redis, keyspaceOf(config), config.webhooks).setUrl(name, url);
}

/** `tenants set`: budgets, quotas and the default webhook; a first webhook secret is printed alone. */
async function setTenant(
  config: PromptqConfig,
  name: string,
  flags: SettingFlags & { webhookUrl?: string },
): Promise<number> {
  const s = settings(flags);
  if (Object.keys(s).length === 0 && flags.webhookUrl === undefined)
    throw new UsageError(
      'set: give --daily-usd, --monthly-usd, --on-exceed, --rpm, --tpm, --share or --webhook-url',
    );
  const { rows, secret } = await withTenants(config, async (store, redis) => {
    if (Object.keys(s).length > 0) await store.set(name, s);
    const made =
      flags.webhookUrl === undefined ? {} : await setWebhookUrl(config, redis, name, flags.webhookUrl);
    return { rows: (await store.list()).filter((t) => t.name === name), secret: made.secret };
  });
  if (secret === undefined) process.stdout.write(`${tenantsTable(rows)}\n`);
  else {
    process.stdout.write(`${secret}\n`);
    process.stderr.write(
      `promptq: tenant "${name}": the webhook secret above is shown only this once (it signs its webhooks)\n`,
    );
  }
  return 0;
}

function spendCell(spent: number, budget: number | null): string {
  return budget === null ? `${formatUsd(spent)} / -` : `${formatUsd(spent)} / ${formatUsd(budget)}`;
}

/** The `promptq tenants` table: spend against budget this UTC day and month. */
export function tenantsTable(tenants: readonly TenantWithSpend[]): string {
  if (tenants.length === 0) return 'no tenants (add one with `promptq tenants add NAME`)';
  return textTable(
    ['tenant', 'today (spent / budget)', 'this month (spent / budget)', 'over budget', 'quota', 'token'],
    tenants.map((t) => [
      t.name,
      spendCell(t.spentUsd.day, t.dailyUsd),
      spendCell(t.spentUsd.month, t.monthlyUsd),
      t.onExceed,
      [
        t.rpm === null ? null : `${t.rpm} rpm`,
        t.tpm === null ? null : `${t.tpm} tpm`,
        t.share === null ? null : `${t.share} share`,
      ]
        .filter((x) => x !== null)
        .join(', ') || '-',
      t.revokedAt !== null ? `revoked ${t.revokedAt.slice(0, 10)}` : 'active',
    ]),
  );
}

export function registerTenants(cli: Cli): void {
  const tenants = cli.program
    .command('tenants')
    .description("tenants' tokens and budgets; alone, prints the table of tenants");
  const run = (f: (config: PromptqConfig) => Promise<number>) => async () => {
    const { config } = loadContext();
    cli.exit(await f(config));
  };

  tenants
    .command('list', { isDefault: true })
    .description('the tenants: spend against budget this UTC day and month')
    .option('--json', 'print JSON', false)
    .action(async (options: { json: boolean }) => {
      await run(async (config) => {
        const list = await withTenants(config, (s) => s.list());
        process.stdout.write(
          options.json ? `${JSON.stringify(list.map(tenantView), null, 2)}\n` : `${tenantsTable(list)}\n`,
        );
        return 0;
      })();
    });

  settingOptions(
    tenants
      .command('add')
      .description('create a tenant; prints its token alone on stdout, once')
      .argument(
        '<NAME>',
        'the tenant (1-64 characters from A-Z a-z 0-9 _ . -); its jobs carry it as tenant_id',
      ),
  ).action(async (name: string, flags: SettingFlags) => {
    await run(async (config) => {
      const { token } = await withTenants(config, (s) => s.add(name, settings(flags)));
      process.stdout.write(`${token}\n`);
      process.stderr.write(`promptq: tenant "${name}" created; the token above is shown only this once\n`);
      return 0;
    })();
  });

  settingOptions(
    tenants
      .command('set')
      .description("change a tenant's budgets, what its jobs do over budget, or its default webhook")
      .argument('<NAME>', 'the tenant'),
  )
    .option(
      '--webhook-url <URL>',
      'default receiver of its jobs\' webhooks ("none": no default); a first one prints the tenant\'s whsec_ secret alone on stdout, once',
    )
    .action(async (name: string, flags: SettingFlags & { webhookUrl?: string }) => {
      await run((config) => setTenant(config, name, flags))();
    });

  registerRotateWebhookSecret(tenants, run);

  tenants
    .command('rotate')
    .description('a new token for the tenant (the old one stops working at once); prints it alone on stdout')
    .argument('<NAME>', 'the tenant')
    .action(async (name: string) => {
      await run(async (config) => {
        process.stdout.write(`${await withTenants(config, (s) => s.rotate(name))}\n`);
        return 0;
      })();
    });

  tenants
    .command('revoke')
    .description("revoke the tenant's token at once (its budgets and jobs stay; rotate issues a new one)")
    .argument('<NAME>', 'the tenant')
    .action(async (name: string) => {
      await run(async (config) => {
        await withTenants(config, (s) => s.revoke(name));
        process.stdout.write(`tenant "${name}": token revoked\n`);
        return 0;
      })();
    });
}

function registerRotateWebhookSecret(
  tenants: Command,
  run: (f: (config: PromptqConfig) => Promise<number>) => () => Promise<void>,
): void {
  tenants
    .command('rotate-webhook-secret')
    .description(
      "a new whsec_ secret for the tenant's webhooks (the old one stops signing at once); prints it alone on stdout",
    )
    .argument('<NAME>', 'the tenant')
    .action(async (name: string) => {
      await run(async (config) => {
        const secret = await withTenants(config, async (_store, redis) => {
          const { TenantWebhooks } = await import('../store/webhook-secrets.js');
          const { keyspaceOf } = await import('../store/keys.js');
          return new TenantWebhooks(redis, keyspaceOf(config), config.webhooks).rotateSecret(name);
        });
        process.stdout.write(`${secret}\n`);
        return 0;
      })();
    });
}
