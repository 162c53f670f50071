/**
 * The provider seam: what promptq needs of whoever serves Claude. The Anthropic API is the first
 * implementation (`anthropic/`); Amazon Bedrock, Google Vertex AI and gateways are to follow, each a
 * folder of its own registered in one line of registry.ts. The worker sees only this file.
 *
 * The official clients share one shape: `@anthropic-ai/bedrock-sdk` and `@anthropic-ai/vertex-sdk`
 * extend the SDK's `BaseAnthropic`, with the same `messages.stream`, `Message` and errors. They
 * differ in how a request is adapted (Bedrock and Vertex move the model into the URL path and put
 * `anthropic_version` in the body) and authenticated (an API key, AWS SigV4, Google OAuth). Around
 * the call they differ in what this interface asks of each: the model ids (`anthropic.claude-…`,
 * `claude-…@date`), the errors (Bedrock's `ThrottlingException`, Vertex's `RESOURCE_EXHAUSTED`), the
 * rate-limit signals (Anthropic's headers, or none), the prices, and whether Message Batches exist
 * (only on the Anthropic API).
 *
 * Jobs and results stay in the Messages API's format (core/job.ts, core/result.ts) whatever the
 * provider: the model a job names is an Anthropic model id, mapped by {@link Provider.modelId}.
 */

import type { Simulator } from '@promptq/anthropic-simulator';
import type { PromptqConfig } from '../core/config.js';
import { PromptqError } from '../core/errors.js';
import type { JobRequest } from '../core/job.js';
import type { Logger } from '../core/log.js';
import type { AnnouncedResource } from '../core/rate-limits.js';
import type { CostParts, Usage } from '../core/record.js';
import type { ApiMessage, ApiStreamEvent } from '../core/result.js';
import type { WorstCaseCall } from '../core/worst-case.js';
import type { NetworkTiming } from './network-timing.js';

export type { NetworkTiming } from './network-timing.js';

/** promptq's classes of a call's answer: the `outcome` label of `promptq_requests_total`. */
export type Outcome =
  | 'success'
  | 'rate_limited'
  | 'overloaded'
  | 'server_error'
  | 'client_error'
  | 'network_error'
  | 'timeout';

/** One rate-limit bucket as an answer announced it; what was not announced is left out, not guessed. */
export interface BucketSignal {
  limit: number | undefined;
  remaining: number | undefined;
  /** Epoch ms when the bucket is fully replenished. */
  resetAt: number | undefined;
}

/**
 * What one answer announced of its account's limits, by resource: what the limiter learns from. A
 * provider with no such signals (Bedrock, Vertex, many gateways) answers `{}`, and the limiter learns
 * the limits from the answers' outcomes instead.
 */
export type RateLimitSignals = Partial<Record<AnnouncedResource, BucketSignal>>;

/** What a failed call means: the provider's error classified into promptq's classes. */
export interface Decision {
  outcome: Exclude<Outcome, 'success'>;
  /** Try again (after `retryAfterMs` if the provider said so, else backoff)? */
  retry: boolean;
  /** Retry reason (label of `promptq_retries_total`, key of `record.retries`). */
  reason: string;
  /** HTTP status, `null` when no response arrived (network, timeout, mid-stream error). */
  statusCode: number | null;
  /** The API's `error.type`, or ours (`network_error`, `timeout_error`). */
  errorType: string;
  /** `error.details.error_code` when the API sent one. */
  errorCode: string | null;
  /** A spend limit is reached: retrying will not help until someone raises it. */
  spendLimit: boolean;
  /** How long the provider asked to wait (`retry-after-ms` / `retry-after`), when it did. */
  retryAfterMs: number | null;
  message: string;
  requestId: string | null;
  /** The error answer's rate-limit signals; `null` when no answer arrived. */
  signals: RateLimitSignals | null;
}

/** A call that took longer than its per-attempt timeout (raised by a provider's {@link Provider.stream}). */
export class AttemptTimeoutError extends PromptqError {
  override readonly name = 'AttemptTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`request timed out after ${timeoutMs} ms`, { code: 'attempt_timeout' });
  }
}

/**
 * A model the account cannot serve (its provider has no id for it, or the account's `models` leave it
 * out): the attempt fails at once, as a client error no retry will mend, naming the model and account.
 */
export class UnservedModelError extends PromptqError {
  override readonly name = 'UnservedModelError';
  constructor(
    readonly model: string,
    readonly where: string,
    why = 'no model id mapped for it',
  ) {
    super(`model "${model}" is not served by ${where} (${why})`, {
      code: 'unserved_model',
    });
  }

  /** As a {@link Decision}: a client error, not retried. */
  decision(): Decision {
    return {
      outcome: 'client_error',
      retry: false,
      reason: 'unserved_model',
      statusCode: null,
      errorType: 'unserved_model',
      errorCode: null,
      spendLimit: false,
      retryAfterMs: null,
      message: this.message,
      requestId: null,
      signals: null,
    };
  }
}

/** One streamed call to make. */
export interface AttemptCall {
  request: JobRequest;
  /** The model to call, by its Anthropic id (the job's own, or a fallback model): the provider maps it. */
  model: string;
  /** The whole call's limit: past it the call is aborted with {@link AttemptTimeoutError}. */
  timeoutMs: number;
  /** Aborts the call; it then rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** The answer's rate-limit signals, as soon as its headers arrive (before the body streams). */
  onSignals?: ((signals: RateLimitSignals) => void) | undefined;
  /** Each stream event as it arrives, in the Messages API's shape (text deltas, tool input, thinking). */
  onStreamEvent?: ((event: ApiStreamEvent) => void) | undefined;
}

/** A call that got its whole answer. */
export interface AttemptResult {
  /** The message, folded from the stream exactly as the non-streaming API would return it. */
  message: ApiMessage;
  /** What the answer announced of the account's limits (`{}`: nothing). */
  signals: RateLimitSignals;
  requestId: string | null;
  statusCode: number;
  /** Request sent → first content delta. */
  ttftMs: number | null;
  /** Request sent → message_stop; `null` when the call was not timed (a Message Batches result). */
  latencyMs: number | null;
  /** Connection set-up and time to first byte, when the client's fetch was timed. */
  network?: NetworkTiming | undefined;
}

export type { Usage };

/** A call's price, part by part, and the total (USD). */
export interface CallCost extends CostParts {
  total: number;
}

export interface PriceOptions {
  /** Sent through the Message Batches API: the batch discount applies. @defaultValue `false` */
  batch?: boolean;
}

export type { WorstCaseCall } from '../core/worst-case.js';

/** What calls cost on a provider (anthropic/pricing.ts's `PriceTable` is one). */
export interface Pricing {
  /** The exact price of one call from its usage; `null` when the model has no known price. */
  priceCall(usage: Usage, model: string, options?: PriceOptions): CallCost | null;
  /** The most a call can cost before it is made (budget holds); `null` when the model has no known price. */
  worstCase(model: string, call: WorstCaseCall, options?: PriceOptions): number | null;
}

/** A batch's requests by how far they got. */
export interface BatchCounts {
  processing: number;
  succeeded: number;
  errored: number;
  expired: number;
  canceled: number;
}

/** A Message Batch as the provider reports it. */
export interface BatchInfo {
  id: string;
  /** `in_progress`, `canceling` or `ended`. */
  status: string;
  /** RFC 3339. */
  createdAt: string;
  /** RFC 3339, once ended. */
  endedAt: string | null;
  counts: BatchCounts;
}

/** How one request of an ended batch ended. */
export type BatchResult =
  | { type: 'succeeded'; message: ApiMessage }
  /** The API's error, classified (`decision.retry`: another try may succeed). */
  | { type: 'errored'; decision: Decision }
  | { type: 'expired' }
  | { type: 'canceled' };

/** One job as a batch request: `customId` maps its result back to it. */
export interface BatchRequest {
  customId: string;
  request: JobRequest;
}

/** The Message Batches API of a provider that has one. */
export interface Batches {
  /** The most requests and bytes one batch may hold. */
  readonly limits: { requests: number; bytes: number };
  /** Bytes one request adds to a create body. */
  requestBytes(request: BatchRequest): number;
  create(requests: readonly BatchRequest[]): Promise<BatchInfo>;
  /** `null` when the provider no longer knows the batch. */
  retrieve(id: string): Promise<BatchInfo | null>;
  /** Every batch of the account, newest first. */
  list(): AsyncIterable<BatchInfo>;
  /** The results of an ended batch, in no particular order. */
  results(id: string): AsyncIterable<{ customId: string; result: BatchResult }>;
  cancel(id: string): Promise<void>;
}

/** One account of one provider, with its client made. */
export interface Provider {
  /** The provider's name as registered (`anthropic`). */
  readonly name: string;
  /**
   * Names this account's limiter state in Redis: a one-way fingerprint of its endpoint and
   * credentials, never a secret itself.
   */
  readonly account: string;
  /** The account's name in the accounts file (`default`: the one account of `ANTHROPIC_API_KEY`). */
  readonly accountName?: string | undefined;
  /** Where calls go, as a log line may show it (no secret): `api.anthropic.com`, `simulator`, a redacted URL. */
  readonly endpoint: string;
  /** What calls cost here. */
  readonly prices: Pricing;
  /** The Message Batches API; absent where the provider has none. */
  readonly batches?: Batches | undefined;
  /**
   * `false`: the provider has no fast mode (`speed: "fast"`), and a fast job is not routed to the
   * account (Bedrock: fast mode runs on the Claude API and Google Cloud). @defaultValue true
   */
  readonly fastMode?: boolean | undefined;
  /** The built-in simulator, when the provider started one (no credentials). */
  readonly simulator?: Simulator | undefined;
  /** The provider's id of an Anthropic model id; `undefined` when this provider does not serve it. */
  modelId(model: string): string | undefined;
  /**
   * One streamed call, the provider's own retries off. Rejects with what the call threw (classify it
   * with {@link classify}), or the abort signal's reason.
   */
  stream(call: AttemptCall): Promise<AttemptResult>;
  /**
   * Anything {@link stream} threw, as a {@link Decision}; `speed` is the call's (a fast call's
   * rate-limit signals are its fast bucket's).
   */
  classify(err: unknown, speed?: 'standard' | 'fast'): Decision;
  /** The rate-limit signals of an answer's headers (`{}` for a provider that sends none). */
  rateLimitSignals(headers: Headers): RateLimitSignals;
  /** Exact input tokens of a request, where the provider can count them (free, rate limited apart). */
  countTokens?(request: Pick<JobRequest, 'model' | 'messages' | 'system'>): Promise<number>;
  /** Release what it holds (its simulator, if it started one). */
  close(): Promise<void>;
}

/** How a provider is made from the configuration: one per folder, registered in registry.ts. */
export interface ProviderFactory {
  readonly name: string;
  create(config: PromptqConfig, log: Logger): Promise<Provider>;
}

/** The GenAI conventions' `gen_ai.provider.name` of a record's `provider` (an accounts file's kind). */
const genAiProviderNames: Readonly<Record<string, string>> = {
  anthropic: 'anthropic',
  gateway: 'anthropic',
  bedrock: 'aws.bedrock',
  vertex: 'gcp.vertex_ai',
};

/** `gen_ai.provider.name` for the provider that served a call (`anthropic` when unknown). */
export function genAiProviderName(provider: string | null | undefined): string {
  return (provider && genAiProviderNames[provider]) || 'anthropic';
}
