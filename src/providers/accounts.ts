/**
 * The accounts file (`PROMPTQ_ACCOUNTS`, JSON or YAML): which accounts of which providers serve the
 * queue. Credentials are named by environment variable, never written in the file: a field that
 * would hold a secret inline is refused, as is any field the schema does not know. A bad file is a
 * {@link ConfigError} (exit 2) naming the entry and the field.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { PromptqConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';

/** The providers an account may be of. */
export const accountProviders = ['anthropic', 'bedrock', 'vertex', 'gateway'] as const;
export type AccountProvider = (typeof accountProviders)[number];

/** Field names that would hold a secret inline: refused with a pointer to the `_env` field. */
const inlineSecrets: Readonly<Record<string, string>> = {
  api_key: 'api_key_env',
  apiKey: 'api_key_env',
  key: 'api_key_env',
  token: 'access_token_env',
  access_token: 'access_token_env',
  aws_access_key_id: 'the standard AWS credential chain (AWS_ACCESS_KEY_ID, a profile, a role)',
  aws_secret_access_key: 'the standard AWS credential chain (AWS_SECRET_ACCESS_KEY, a profile, a role)',
  secret: 'an environment variable named by an `_env` field',
  password: 'an environment variable named by an `_env` field',
};

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be the NAME of an environment variable, not its value');
const httpUrl = z
  .url({ protocol: /^https?$/ })
  .refine((u) => !new URL(u).username && !new URL(u).password, 'must not carry a user or password');
const region = z.string().regex(/^[a-z0-9-]{2,40}$/, 'must be a region name such as us-east-1');

const common = {
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters from A-Z a-z 0-9 _ . -'),
  /** The Anthropic model ids this account serves; default: every model the provider maps. */
  models: z.array(z.string().min(1).max(128)).min(1).max(100).optional(),
  /** Provider ids of Anthropic model ids, over the built-in table (inference profiles, new models). */
  model_ids: z.record(z.string().min(1).max(128), z.string().min(1).max(256)).optional(),
};

const anthropicEntry = z.strictObject({
  ...common,
  provider: z.literal('anthropic'),
  api_key_env: envName,
  base_url: httpUrl.optional(),
});
const gatewayEntry = z.strictObject({
  ...common,
  provider: z.literal('gateway'),
  api_key_env: envName.optional(),
  base_url: httpUrl,
});
const bedrockEntry = z.strictObject({
  ...common,
  provider: z.literal('bedrock'),
  region,
  base_url: httpUrl.optional(),
  /** A cross-region inference profile prefix (`us`, `eu`, `apac`, `global`) put before every model id. */
  inference_profile: z
    .string()
    .regex(/^[a-z]{2,10}$/)
    .optional(),
});
const vertexEntry = z.strictObject({
  ...common,
  provider: z.literal('vertex'),
  project: z.string().regex(/^[a-z][a-z0-9-]{4,62}$/, 'must be a Google Cloud project id'),
  region: z.union([region, z.literal('global')]),
  base_url: httpUrl.optional(),
  access_token_env: envName.optional(),
});

const accountEntry = z.discriminatedUnion('provider', [
  anthropicEntry,
  gatewayEntry,
  bedrockEntry,
  vertexEntry,
]);
const accountsFile = z.strictObject({ accounts: z.array(z.unknown()).min(1).max(64) });

export type AnthropicAccount = z.infer<typeof anthropicEntry>;
export type GatewayAccount = z.infer<typeof gatewayEntry>;
export type BedrockAccount = z.infer<typeof bedrockEntry>;
export type VertexAccount = z.infer<typeof vertexEntry>;
/** One account as configured. */
export type AccountConfig = z.infer<typeof accountEntry>;

/** The variable a bad file is reported under. */
const variable = 'PROMPTQ_ACCOUNTS';

/**
 * The accounts of this configuration: the file's, checked, or one `anthropic` account named
 * `default` from `ANTHROPIC_API_KEY`/`ANTHROPIC_BASE_URL` (`undefined` key: the simulator).
 */
export function accountsOf(config: Pick<PromptqConfig, 'accountsFile'>): AccountConfig[] | undefined {
  if (config.accountsFile === undefined) return undefined;
  return loadAccounts(config.accountsFile);
}

/** Read and check an accounts file; throws a {@link ConfigError} naming the entry and field. */
export function loadAccounts(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  checkEnv = true,
): AccountConfig[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(variable, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return parseAccounts(text, path, env, checkEnv);
}

/** Check an accounts file's text (JSON, or YAML). */
export function parseAccounts(
  text: string,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
  /** false: the credentials' variables need not be set here (a process that only enqueues). */
  checkEnv = true,
): AccountConfig[] {
  let data: unknown;
  try {
    data = /\.json$/i.test(where) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      variable,
      `${where} is not valid ${/\.json$/i.test(where) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const file = accountsFile.safeParse(data);
  if (!file.success) throw new ConfigError(variable, `${where}: ${issueText(file.error, '')}`);
  const accounts: AccountConfig[] = [];
  const names = new Set<string>();
  file.data.accounts.forEach((raw, i) => {
    const label = entryLabel(raw, i);
    refuseInlineSecrets(raw, label, where);
    const entry = accountEntry.safeParse(raw);
    if (!entry.success) throw new ConfigError(variable, `${where}: ${label}: ${issueText(entry.error, '')}`);
    if (names.has(entry.data.name)) {
      throw new ConfigError(variable, `${where}: ${label}: name: "${entry.data.name}" is used twice`);
    }
    names.add(entry.data.name);
    if (checkEnv) checkEnvReferences(entry.data, label, where, env);
    accounts.push(entry.data);
  });
  return accounts;
}

function entryLabel(raw: unknown, i: number): string {
  const name = typeof raw === 'object' && raw !== null ? (raw as { name?: unknown }).name : undefined;
  return typeof name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(name)
    ? `accounts[${i}] "${name}"`
    : `accounts[${i}]`;
}

function refuseInlineSecrets(raw: unknown, label: string, where: string): void {
  if (typeof raw !== 'object' || raw === null) return;
  for (const field of Object.keys(raw)) {
    const instead = Object.hasOwn(inlineSecrets, field) ? inlineSecrets[field] : undefined;
    if (instead !== undefined) {
      // The value is never repeated: it may be the secret.
      throw new ConfigError(
        variable,
        `${where}: ${label}: ${field}: an inline secret is refused; use ${instead}`,
      );
    }
  }
}

/** Every `_env` field names a variable that is set (a missing key fails at start, not at the first call). */
function checkEnvReferences(
  account: AccountConfig,
  label: string,
  where: string,
  env: NodeJS.ProcessEnv,
): void {
  const refs: [string, string | undefined][] = [];
  if (account.provider === 'anthropic' || account.provider === 'gateway')
    refs.push(['api_key_env', account.api_key_env]);
  if (account.provider === 'vertex') refs.push(['access_token_env', account.access_token_env]);
  for (const [field, name] of refs) {
    if (name !== undefined && !env[name]) {
      throw new ConfigError(
        variable,
        `${where}: ${label}: ${field}: the environment variable ${name} is not set`,
      );
    }
  }
}

/** The first issue, as `field.path: message` (values never shown: they may be secrets). */
function issueText(error: z.ZodError, prefix: string): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown field(s) ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_union' && path === 'provider')
    message = `must be one of ${accountProviders.join(', ')}`;
  return `${prefix}${path || '(file)'}: ${message}`;
}
