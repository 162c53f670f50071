/**
 * One API attempt: a streamed call through the SDK's `messages.stream` helper (its own retries off),
 * timed for time to first token and total latency; the helper assembles the final Message.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { JobRequest } from '../../core/job.js';
import { networkTimingOf } from '../network-timing.js';
import { type AttemptCall, type AttemptResult, AttemptTimeoutError } from '../provider.js';
import { parseRateLimitHeaders } from './rate-limit-headers.js';

/**
 * The request as the API takes it: promptq's own fields removed, every other field (known or not)
 * as the job gave it, and `model` replaced when a fallback model serves the job.
 */
export function apiParams(
  request: JobRequest,
  model: string = request.model,
): Anthropic.MessageCreateParamsStreaming {
  const {
    tenant_id: _tenant,
    fallback_models: _fallback,
    betas: _betas,
    webhook: _webhook,
    account: _account,
    account_fallback: _accountFallback,
    deadline: _deadline,
    route: _route,
    ...params
  } = request;
  return { ...(params as unknown as Anthropic.MessageCreateParamsNonStreaming), model, stream: true };
}

/** Per-job request headers: the job's beta flags as `anthropic-beta`. */
export function apiHeaders(request: JobRequest): Record<string, string> | undefined {
  return request.betas && request.betas.length > 0
    ? { 'anthropic-beta': request.betas.join(',') }
    : undefined;
}

/**
 * What an attempt needs of a client: the SDK's `messages.stream`. `@anthropic-ai/bedrock-sdk` and
 * `@anthropic-ai/vertex-sdk` clients have the same one (they adapt and sign the request inside).
 */
export interface StreamingClient {
  messages: Pick<Anthropic.Messages, 'stream'>;
}

/**
 * Run one attempt. Throws SDK errors, or {@link AttemptTimeoutError} when `timeoutMs` passes, or the
 * abort signal's reason. `call.model` is the provider's id of the model to call (a fallback model,
 * or the job's own).
 */
export async function runAttempt(client: StreamingClient, call: AttemptCall): Promise<AttemptResult> {
  const { request, timeoutMs, signal } = call;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new AttemptTimeoutError(timeoutMs)), timeoutMs);
  const onOuterAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  const started = performance.now();
  try {
    const headers = apiHeaders(request);
    // The SDK's own stream helper folds the events into the message, so every block type
    // (thinking signatures, tool input, citations, server-tool results) comes out exactly as the
    // non-streaming API would return it.
    const stream = client.messages.stream(apiParams(request, call.model), {
      signal: controller.signal,
      maxRetries: 0,
      timeout: timeoutMs,
      ...(headers ? { headers } : {}),
    });
    let ttftMs: number | null = null;
    stream.on('streamEvent', (event) => {
      if (ttftMs === null && event.type === 'content_block_delta') ttftMs = performance.now() - started;
      call.onStreamEvent?.(event);
    });
    // Asked for first so that a failed request rejects a promise someone holds.
    const final = stream.finalMessage();
    final.catch(() => {});
    const { response, request_id } = await stream.withResponse();
    const signals = parseRateLimitHeaders(response.headers, request.speed ?? 'standard');
    call.onSignals?.(signals);
    const message: Anthropic.Message = await final;
    // The helper adds `parsed_output` for structured outputs; without them it is not the API's.
    const parsed = message as Anthropic.Message & { parsed_output?: unknown };
    if (parsed.parsed_output === null) delete parsed.parsed_output;
    return {
      message,
      signals,
      requestId: request_id ?? response.headers.get('request-id'),
      statusCode: response.status,
      ttftMs: ttftMs === null ? null : Math.round(ttftMs),
      latencyMs: Math.round(performance.now() - started),
      network: networkTimingOf(response),
    };
  } catch (err) {
    // An abort surfaces as the SDK's user-abort error: turn it back into the reason it was.
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onOuterAbort);
  }
}
