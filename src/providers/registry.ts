/**
 * Every provider promptq can call, by name. Adding one is a folder beside `anthropic/` implementing
 * {@link ProviderFactory} (provider.ts), and one line here.
 */
import type { PromptqConfig } from '../core/config.js';
import { ConfigError } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { anthropicProvider } from './anthropic/provider.js';
import type { Provider, ProviderFactory } from './provider.js';

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
