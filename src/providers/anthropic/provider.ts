/**
 * The Anthropic API as a {@link Provider}: the SDK client (client.ts), one streamed attempt
 * (stream.ts), its error table (classify.ts), its `anthropic-ratelimit-*` headers
 * (rate-limit-headers.ts), its price list (pricing.ts) and its Message Batches (batches.ts).
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { Simulator } from '@promptq/anthropic-simulator';
import { redactUrl } from '../../core/config.js';
import type { JobRequest } from '../../core/job.js';
import { accountFingerprint } from '../account.js';
import type {
  AttemptCall,
  AttemptResult,
  Batches,
  Decision,
  Pricing,
  Provider,
  ProviderFactory,
  RateLimitSignals,
} from '../provider.js';
import { AnthropicBatches } from './batches.js';
import { classifyError } from './classify.js';
import { anthropicClient } from './client.js';
import { PriceTable } from './pricing.js';
import { parseRateLimitHeaders, type Speed } from './rate-limit-headers.js';
import { runAttempt } from './stream.js';

export interface AnthropicProviderOptions {
  client: Anthropic;
  /** The account's fingerprint (account.ts). @defaultValue `default` */
  account?: string;
  /** Where calls go, for log lines. @defaultValue `api.anthropic.com` */
  endpoint?: string;
  /** @defaultValue the vendored price list */
  prices?: Pricing;
  /** The simulator the client talks to, when one was started for it (closed with the provider). */
  simulator?: Simulator | undefined;
  /** @defaultValue this client's Message Batches (pooled-batches.ts: several accounts' as one) */
  batches?: Batches | undefined;
}

export class AnthropicProvider implements Provider {
  readonly name = 'anthropic';
  readonly account: string;
  readonly endpoint: string;
  readonly prices: Pricing;
  readonly batches: Batches;
  readonly simulator: Simulator | undefined;
  readonly #client: Anthropic;

  constructor(opts: AnthropicProviderOptions) {
    this.#client = opts.client;
    this.account = opts.account ?? accountFingerprint(undefined);
    this.endpoint = opts.endpoint ?? 'api.anthropic.com';
    this.prices = opts.prices ?? new PriceTable();
    this.batches = opts.batches ?? new AnthropicBatches(opts.client);
    this.simulator = opts.simulator;
  }

  /** Jobs name Anthropic model ids: every one is this provider's own. */
  modelId(model: string): string {
    return model;
  }

  stream(call: AttemptCall): Promise<AttemptResult> {
    return runAttempt(this.#client, { ...call, model: this.modelId(call.model) });
  }

  classify(err: unknown, speed?: Speed): Decision {
    return classifyError(err, speed);
  }

  rateLimitSignals(headers: Headers): RateLimitSignals {
    return parseRateLimitHeaders(headers);
  }

  async countTokens(request: Pick<JobRequest, 'model' | 'messages' | 'system'>): Promise<number> {
    const { model, messages, system } = request;
    const counted = await this.#client.messages.countTokens({
      model: this.modelId(model),
      messages: messages as Anthropic.MessageParam[],
      ...(system !== undefined ? { system: system as Anthropic.MessageCountTokensParams['system'] } : {}),
    });
    return counted.input_tokens;
  }

  /** This account with other Message Batches (several accounts' as one: pooled-batches.ts). */
  withBatches(batches: Batches): AnthropicProvider {
    return new AnthropicProvider({
      client: this.#client,
      account: this.account,
      endpoint: this.endpoint,
      prices: this.prices,
      simulator: this.simulator,
      batches,
    });
  }

  async close(): Promise<void> {
    await this.simulator?.close();
  }
}

/** The registration (registry.ts): the API (or `ANTHROPIC_BASE_URL`) with the key, else the simulator. */
export const anthropicProvider: ProviderFactory = {
  name: 'anthropic',
  async create(config, log) {
    const { client, simulator, apiKey, baseURL } = await anthropicClient(config, log);
    return new AnthropicProvider({
      client,
      // Limits belong to an API key (and endpoint): one shared state per account, never the key itself.
      account: accountFingerprint(`${baseURL ?? 'default'}|${apiKey}`),
      endpoint: simulator
        ? 'simulator'
        : config.anthropic.baseUrl === undefined
          ? 'api.anthropic.com'
          : redactUrl(config.anthropic.baseUrl, 'ANTHROPIC_BASE_URL'),
      prices: PriceTable.load(config.pricingFile),
      simulator,
    });
  },
};
