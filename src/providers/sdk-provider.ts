/**
 * One account served through an official Anthropic client: the Anthropic SDK itself (a gateway),
 * `@anthropic-ai/bedrock-sdk` or `@anthropic-ai/vertex-sdk`. They share `messages.stream`, the
 * `Message` and the error classes, so the attempt (anthropic/stream.ts) and the error table
 * (anthropic/classify.ts) are the same; what differs per provider is given: the model ids, how an
 * error names its type (Bedrock's `x-amzn-errortype`, Vertex's `status`), and whether the answers
 * carry rate-limit headers (none: the limiter learns the limits from the outcomes).
 */
import type { Simulator } from '@promptq/anthropic-simulator';
import { classifyError } from './anthropic/classify.js';
import { parseRateLimitHeaders, type Speed } from './anthropic/rate-limit-headers.js';
import { runAttempt, type StreamingClient } from './anthropic/stream.js';
import type { ModelIds } from './model-ids.js';
import {
  type AttemptCall,
  type AttemptResult,
  type Decision,
  type Pricing,
  type Provider,
  type RateLimitSignals,
  UnservedModelError,
} from './provider.js';

export interface SdkProviderOptions {
  /** The provider's registered name (`bedrock`, `vertex`, `gateway`). */
  name: string;
  /** The account's name in the accounts file. */
  accountName: string;
  /** The limiter's name of the account (a fingerprint, account.ts). */
  account: string;
  endpoint: string;
  client: StreamingClient;
  models: ModelIds;
  prices: Pricing;
  /** Read the answers' `anthropic-ratelimit-*` headers (a gateway may forward them). @defaultValue `false` */
  rateLimitHeaders?: boolean;
  /** The provider's own error type of an error (`ThrottlingException`, `RESOURCE_EXHAUSTED`). */
  errorType?: (err: unknown) => string | undefined;
  /** `false`: no fast mode here (provider.ts `Provider.fastMode`). @defaultValue true */
  fastMode?: boolean;
  /** Reclassify what the Anthropic table does not know (a Bedrock stream's `throttlingException`). */
  refine?: (decision: Decision) => Decision;
  simulator?: Simulator | undefined;
}

export class SdkProvider implements Provider {
  readonly name: string;
  readonly accountName: string;
  readonly account: string;
  readonly endpoint: string;
  readonly prices: Pricing;
  readonly simulator: Simulator | undefined;
  readonly fastMode: boolean;
  readonly #opts: SdkProviderOptions;

  constructor(opts: SdkProviderOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.accountName = opts.accountName;
    this.account = opts.account;
    this.endpoint = opts.endpoint;
    this.prices = opts.prices;
    this.simulator = opts.simulator;
    this.fastMode = opts.fastMode ?? true;
  }

  modelId(model: string): string | undefined {
    return this.#opts.models.idOf(model);
  }

  async stream(call: AttemptCall): Promise<AttemptResult> {
    const id = this.modelId(call.model);
    if (id === undefined)
      throw new UnservedModelError(call.model, `${this.name} account "${this.accountName}"`);
    const result = await runAttempt(this.#opts.client, {
      ...call,
      model: id,
      // Without headers there is nothing to hand the permit early.
      onSignals: this.#opts.rateLimitHeaders ? call.onSignals : undefined,
    });
    const signals = this.#opts.rateLimitHeaders ? result.signals : {};
    // The message names the model as the job did, whatever the provider calls it.
    return { ...result, signals, message: { ...result.message, model: call.model } };
  }

  classify(err: unknown, speed?: Speed): Decision {
    if (err instanceof UnservedModelError) return err.decision();
    const decision = classifyError(err, speed);
    const type = this.#opts.errorType?.(err);
    const typed = type === undefined ? decision : { ...decision, errorType: type };
    const signals = this.#opts.rateLimitHeaders || typed.signals === null ? typed.signals : {};
    const refined = { ...typed, signals };
    return this.#opts.refine ? this.#opts.refine(refined) : refined;
  }

  rateLimitSignals(headers: Headers): RateLimitSignals {
    return this.#opts.rateLimitHeaders ? parseRateLimitHeaders(headers) : {};
  }

  async close(): Promise<void> {
    await this.simulator?.close();
  }
}
