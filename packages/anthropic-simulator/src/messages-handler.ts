import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkCredentials } from './auth.js';
import { planContent } from './content-plan.js';
import type { SimContext } from './context.js';
import { ERROR_DEFAULTS, errorBody, rateLimitMessage } from './errors.js';
import { drawFault } from './faults.js';
import { delay, parseJson, readBody, sendJson } from './http-util.js';
import { planOutput } from './output.js';
import { type Delivery, type Generation, sendMessage, streamMessage } from './respond-message.js';
import { randomId } from './rng.js';
import { promptSegments } from './tokenizer.js';
import type { ScriptedFault, ScriptedStatusFault, ServedResponse } from './types.js';
import { validateMessagesRequest } from './validate-request.js';

/** Stats group for requests whose body names no model. */
export const NO_MODEL_GROUP = '(no model)';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function report(ctx: SimContext, served: ServedResponse): void {
  try {
    ctx.opts.onServed?.(served);
  } catch {
    // A faulty observer must not break the simulated API.
  }
}

/**
 * `POST /v1/messages`. Order of checks: body size, scripted outcome, credentials, body
 * validation, random fault, rate limits; then the message is generated (streamed or not).
 */
export async function handleMessages(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): Promise<void> {
  const { opts, stats, limiter } = ctx;
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });

  const { body: raw, tooLarge } = await readBody(req, opts.maxBodyBytes);
  const json = tooLarge ? undefined : parseJson(raw);
  const model = isRecord(json) && typeof json.model === 'string' ? json.model : undefined;
  const group = model === undefined ? NO_MODEL_GROUP : opts.groupOf(model);
  stats.record(group, (c) => {
    c.requests++;
  });
  stats.inFlight(group, 1);
  res.once('close', () => stats.inFlight(group, -1));

  // Every response for a known group carries the (announced) rate-limit state, errors included.
  const limitHeaders = () => (model === undefined ? {} : limiter.headers(group));
  const fail = (status: number, type: string, message: string, errorCode?: string, retryAfter?: number) => {
    const headers: Record<string, string> = { 'request-id': requestId, ...limitHeaders() };
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    stats.status(group, status);
    sendJson(res, status, errorBody(type, message, requestId, errorCode), headers);
  };
  const drop = () => {
    stats.record(group, (c) => {
      c.drops++;
    });
    req.socket.destroy();
  };
  const hang = () => {
    // Nothing is sent; the socket stays open until the client aborts or close() destroys it.
    stats.record(group, (c) => {
      c.hangs++;
    });
  };
  const statusFault = (f: ScriptedStatusFault, scripted: boolean) => {
    stats.record(group, (c) => {
      if (f.status === 429) {
        c.rateLimited.total++;
        if (scripted) c.rateLimited.scripted++;
      }
      if (f.status === 529) c.overloaded++;
      if (f.status === 500) c.apiErrors++;
    });
    const defaults = ERROR_DEFAULTS[f.status] ?? { type: 'api_error', message: 'Error' };
    fail(f.status, f.type ?? defaults.type, f.message ?? defaults.message, f.errorCode, f.retryAfter);
  };

  if (!(await delay(opts.latencyMs, abort.signal))) return;
  if (tooLarge) return fail(413, 'request_too_large', ERROR_DEFAULTS[413]?.message ?? 'Request too large');

  const scripted: ScriptedFault | undefined = ctx.script.shift();
  if (scripted && 'status' in scripted) return statusFault(scripted, true);
  if (scripted && 'drop' in scripted) return drop();
  if (scripted && 'hang' in scripted) return hang();

  const denied = checkCredentials(req, opts.apiKey, opts.requireVersionHeader);
  if (denied) return fail(denied.status, denied.type, denied.message);
  if (json === undefined) {
    return fail(
      400,
      'invalid_request_error',
      'There was an issue with the formatting of your request body: invalid JSON',
    );
  }
  const validated = validateMessagesRequest(json, opts.maxOutputTokens);
  if (!validated.ok) return fail(validated.error.status, validated.error.type, validated.error.message);
  const request = validated.value;

  const forced = scripted && 'ok' in scripted ? scripted : undefined;
  let midstream = scripted !== undefined && 'midstreamError' in scripted;
  if (!scripted) {
    const fault = drawFault(ctx.faultRng, opts.faults);
    if (fault === 'overloaded') return statusFault({ status: 529 }, false);
    if (fault === 'apiError') return statusFault({ status: 500 }, false);
    if (fault === 'drop') return drop();
    if (fault === 'hang') return hang();
    midstream = fault === 'midstream';
  }

  const plan = ctx.cache.plan(
    request.model,
    promptSegments(request.input),
    opts.cacheMinTokens(request.model),
    opts.now(),
  );
  const { usage } = plan;
  const admission = limiter.admit(
    group,
    {
      requests: 1,
      // Cache reads are free for ITPM; cache writes count, as in the real API.
      input_tokens: usage.inputTokens + usage.cacheCreationInputTokens,
      // OTPM is charged at max_tokens up front and settled when the answer is done.
      output_tokens: request.maxTokens,
    },
    forced !== undefined,
  );
  if (!admission.ok) {
    stats.record(group, (c) => {
      c.rateLimited.total++;
      c.rateLimited[admission.kind]++;
    });
    return fail(
      429,
      'rate_limit_error',
      rateLimitMessage(admission.resource, admission.limit),
      undefined,
      admission.retryAfterSeconds,
    );
  }
  const admittedAt = opts.now();
  plan.commit(admittedAt);
  stats.record(group, (c) => {
    c.inputTokens += usage.inputTokens;
    c.cacheCreationInputTokens += usage.cacheCreationInputTokens;
    c.cacheReadInputTokens += usage.cacheReadInputTokens;
  });

  const gen: Generation = {
    requestId,
    messageId: randomId('msg_'),
    model: request.model,
    usage,
    content: planContent(
      request.content,
      planOutput(ctx.outputRng, request.maxTokens, opts.output, request.stopSequences, forced?.outputTokens),
      ctx.outputRng,
      opts.tokensPerDelta,
    ),
    midstream,
    extraDelayMs: forced?.delayMs ?? 0,
  };
  let settled = false;
  const settle = (sentTokens: number) => {
    if (!settled) {
      settled = true;
      limiter.refund(group, 'output_tokens', Math.max(0, request.maxTokens - sentTokens));
    }
    return limitHeaders();
  };

  let delivery: Delivery;
  if (request.stream) {
    stats.status(group, 200);
    delivery = await streamMessage(res, gen, opts, abort.signal, limitHeaders());
    settle(delivery.sentTokens);
  } else {
    delivery = await sendMessage(res, gen, opts, abort.signal, settle);
    if (delivery.outcome === 'completed') stats.status(group, 200);
    if (delivery.outcome === 'midstream') stats.status(group, 529);
  }
  const now = opts.now();
  report(ctx, {
    requestId,
    messageId: gen.messageId,
    model: request.model,
    group,
    stream: request.stream,
    userId: request.userId,
    maxTokens: request.maxTokens,
    outcome: delivery.outcome,
    usage: {
      input_tokens: usage.inputTokens,
      output_tokens: delivery.sentTokens,
      cache_creation_input_tokens: usage.cacheCreationInputTokens,
      cache_read_input_tokens: usage.cacheReadInputTokens,
    },
    stopReason: delivery.outcome === 'completed' ? gen.content.stopReason : null,
    content: gen.content.blocks.map((b) => b.final),
    cacheCreation: {
      ephemeral_5m_input_tokens: usage.ephemeral5mInputTokens,
      ephemeral_1h_input_tokens: usage.ephemeral1hInputTokens,
    },
    serverToolUse: gen.content.serverToolUse,
    admittedAt,
    finishedAt: now,
  });
  stats.record(group, (c) => {
    c.outputTokens += delivery.sentTokens;
    if (delivery.outcome === 'midstream') c.midstreamErrors++;
    if (delivery.outcome === 'midstream' && !request.stream) c.overloaded++;
    if (delivery.outcome === 'completed') {
      c.succeeded++;
      c.firstSuccessAt ??= now;
      c.lastSuccessAt = now;
    }
  });
}
