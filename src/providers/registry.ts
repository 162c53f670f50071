/**
 * Every provider promptq can call, by name. Adding one is a folder beside `anthropic/` implementing
 * {@link ProviderFactory} (provider.ts), and one line here.
 */
import type { PromptqConfig } from '../core/config.js';
import { ConfigError } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { type AccountConfig, type AnthropicAccount, accountsOf } from './accounts.js';
import { PooledBatches } from './anthropic/pooled-batches.js';
import { type AnthropicProvider, anthropicProvider } from './anthropic/provider.js';
import { bedrockProvider } from './bedrock/provider.js';
import { anthropicCompatibleProvider } from './gateway/provider.js';
import { ModelIds } from './model-ids.js';
import type { Batches, Provider, ProviderFactory } from './provider.js';
import { vertexProvider } from './vertex/provider.js';

const registry: Readonly<Record<string, ProviderFactory>> = {
  [anthropicProvider.name]: anthropicProvider,
};

/** The names of the registered providers. */
export const providerNames: readonly string[] = Object.keys(registry);

/** Make the named provider's client from the configuration. */
export async function createProvider(name: string, config: PromptqConfig, log: Logger): Promise<Provider> {
  const factory = Object.hasOwn(registry, name) ? registry[name] : undefined;
  if (factory === undefined) {
    throw new ConfigError('provider', `unknown provider "${name}" (known: ${providerNames.join(', ')})`);
  }
  return factory.create(config, log);
}

/** One account of an accounts file as a provider. */
export function createAccountProvider(account: AccountConfig, config: PromptqConfig): Provider {
  switch (account.provider) {
    case 'anthropic':
    case 'gateway':
      return anthropicCompatibleProvider(account, config);
    case 'bedrock':
      return bedrockProvider(account, config);
    case 'vertex':
      return vertexProvider(account, config);
  }
}

/**
 * Every account the worker calls: those of the accounts file (`PROMPTQ_ACCOUNTS`), else the one
 * `anthropic` account of `ANTHROPIC_API_KEY`/`ANTHROPIC_BASE_URL` (the simulator without a key).
 */
export async function createAccountProviders(config: PromptqConfig, log: Logger): Promise<Provider[]> {
  const accounts = accountsOf(config);
  if (accounts === undefined) return [await createProvider('anthropic', config, log)];
  const providers = accounts.map((a) => createAccountProvider(a, config));
  log.info('accounts', {
    accounts: providers.map((p) => ({ name: p.accountName, provider: p.name, endpoint: p.endpoint })),
  });
  return providers;
}

/**
 * The provider of what only the Anthropic API offers (Message Batches, token counting): without an
 * accounts file the one account of `ANTHROPIC_API_KEY`/`ANTHROPIC_BASE_URL`; with one, its
 * `anthropic` accounts — token counting on the first, Message Batches on each job's own
 * (pooled-batches.ts: the first the job's `account` allows that serves its model). A file with no
 * `anthropic` account is a {@link ConfigError} saying so. `what`: what needs it, for that error
 * (`Message Batches`).
 */
export async function createAnthropicApiProvider(
  config: PromptqConfig,
  log: Logger,
  what: string,
): Promise<Provider> {
  const accounts = accountsOf(config);
  if (accounts === undefined) return createProvider('anthropic', config, log);
  const anthropics = accounts.filter((a): a is AnthropicAccount => a.provider === 'anthropic');
  if (anthropics.length === 0) {
    const kinds = accounts.map((a) => `${a.name} (${a.provider})`).join(', ');
    throw new ConfigError(
      'PROMPTQ_ACCOUNTS',
      `${what} needs an anthropic account (only the Anthropic API has it); the accounts file has ${kinds}`,
    );
  }
  const providers = await Promise.all(anthropics.map((a) => anthropicAccountProvider(a, config, log)));
  log.info(`${what} through account ${anthropics.map((a) => a.name).join(', ')}`, {
    account: anthropics[0]?.name,
    accounts: anthropics.map((a) => a.name),
  });
  const first = providers[0] as AnthropicProvider;
  if (providers.length === 1) return first;
  const pooled = new PooledBatches(
    anthropics.map((a, i) => {
      const ids = new ModelIds({ overrides: a.model_ids, served: a.models });
      return {
        name: a.name,
        batches: providers[i]?.batches as Batches,
        serves: (m) => ids.idOf(m) !== undefined,
      };
    }),
  );
  return first.withBatches(pooled);
}

/** One `anthropic` account of the file through the Anthropic API's own client (its key, its base URL). */
async function anthropicAccountProvider(
  account: AnthropicAccount,
  config: PromptqConfig,
  log: Logger,
): Promise<AnthropicProvider> {
  const anthropic = { ...config.anthropic, apiKey: process.env[account.api_key_env] };
  if (account.base_url !== undefined) anthropic.baseUrl = account.base_url;
  return (await createProvider('anthropic', { ...config, anthropic }, log)) as AnthropicProvider;
}
