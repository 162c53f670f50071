/**
 * An Anthropic-compatible gateway (a company proxy, LiteLLM, …) as a provider: the Anthropic SDK at
 * the gateway's base URL, with the gateway's key (or none), model ids as Anthropic names them. A
 * gateway may forward Anthropic's rate-limit headers or send none: they are read when present, and
 * without them the limiter learns the limits from the outcomes.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { PromptqConfig } from '../../core/config.js';
import { redactUrl } from '../../core/config.js';
import { Logger } from '../../core/log.js';
import { accountFingerprint } from '../account.js';
import type { AnthropicAccount, GatewayAccount } from '../accounts.js';
import { PriceTable } from '../anthropic/pricing.js';
import { ModelIds } from '../model-ids.js';
import { timedFetch } from '../network-timing.js';
import { SdkProvider } from '../sdk-provider.js';

/** An `anthropic` account of the file, or a gateway: the Anthropic SDK at a base URL with a key. */
export function anthropicCompatibleProvider(
  account: AnthropicAccount | GatewayAccount,
  config: PromptqConfig,
  env: NodeJS.ProcessEnv = process.env,
): SdkProvider {
  const key = account.api_key_env === undefined ? undefined : env[account.api_key_env];
  Logger.redact(key);
  const baseURL = account.base_url;
  const client = new Anthropic({
    // A gateway without a key of its own: the SDK still wants one; the gateway ignores it.
    apiKey: key ?? 'promptq-gateway-no-key',
    ...(baseURL ? { baseURL } : {}),
    maxRetries: 0,
    timeout: config.worker.requestTimeoutMs,
    fetch: timedFetch(),
    openTelemetry: false,
  });
  const endpoint = baseURL ? redactUrl(baseURL, 'PROMPTQ_ACCOUNTS') : 'api.anthropic.com';
  return new SdkProvider({
    name: account.provider,
    accountName: account.name,
    // Limits belong to a key and an endpoint: its fingerprint, never the key.
    account: accountFingerprint(`${baseURL ?? 'default'}|${key ?? account.name}`),
    endpoint,
    client,
    models: new ModelIds({ overrides: account.model_ids, served: account.models }),
    prices: PriceTable.load(config.pricingFile),
    rateLimitHeaders: true,
  });
}
