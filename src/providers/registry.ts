/**
 * Every provider promptq can call, by name. Adding one is a folder beside `anthropic/` implementing
 * {@link ProviderFactory} (provider.ts), and one line here.
 */
import type { PromptqConfig } from '../core/config.js';
import { ConfigError } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { type AccountConfig, accountsOf } from './accounts.js';
import { anthropicProvider } from './anthropic/provider.js';
import { bedrockProvider } from './bedrock/provider.js';
import { anthropicCompatibleProvider } from './gateway/provider.js';
import type { Provider, ProviderFactory } from './provider.js';
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
