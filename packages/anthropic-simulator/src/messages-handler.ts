import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkCredentials } from './auth.js';
import { planContent } from './content-plan.js';
import type { SimContext } from './context.js';
import { ERROR_DEFAULTS, errorBody, rateLimitMessage } from './errors.js';
import { drawFault } from './faults.js';
import { delay, parseJson, readBody, sendJson } from './http-util.js';
import { planOutput } from './output.js';
import type { CacheUsage } from './prompt-cache.js';
import { FAST_SUFFIX } from './rate-limiter.js';
import { type Delivery, type Generation, sendMessage, streamMessage } from './respond-message.js';
import { randomId } from './rng.js';
import { promptSegments } from './tokenizer.js';
import type { Arrival, ScriptedFault, ScriptedStatusFault, ServedResponse } from './types.js';
import { type MessagesRequest, validateMessagesRequest } from './validate-request.js';

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

function arrived(ctx: SimContext, arrival: Arrival): void {
  try {
    ctx.opts.onArrival?.(arrival);
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
  // A `speed: "fast"` call is served from its group's own fast bucket (`opus-fast`).
  const fast = isRecord(json) && json.speed === 'fast';
  const group = model === undefined ? NO_MODEL_GROUP : `${opts.groupOf(model)}${fast ? FAST_SUFFIX : ''}`;
  stats.record(group, (c) => {
    c.requests++;
  });
  stats.inFlight(group, 1);
  res.once('close', () => stats.inFlight(group, -1));

  // Every response for a known group carries the (announced) rate-limit state, errors included.
  const limitHeaders = () => (model === undefined ? {} : limiter.headers(group));
  const refuse = refusals(ctx, req, res, { requestId, group, limitHeaders });

  if (!(await delay(opts.latencyMs, abort.signal))) return;
  if (tooLarge)
    return refuse.fail(413, 'request_too_large', ERROR_DEFAULTS[413]?.message ?? 'Request too large');

  const scripted: ScriptedFault | undefined = ctx.script.shift();
  if (scripted && 'status' in scripted) return refuse.statusFault(scripted, true);
  if (scripted && 'drop' in scripted) return refuse.drop();
  if (scripted && 'hang' in scripted) return refuse.hang();

  const request = validRequest(ctx, req, json, refuse);
  if (request === undefined) return;

  const forced = scripted && 'ok' in scripted ? scripted : undefined;
  let midstream = scripted !== undefined && 'midstreamError' in scripted;
  if (!scripted) {
    const fault = drawFault(ctx.faultRng, opts.faults);
    if (fault === 'overloaded') return refuse.statusFault({ status: 529 }, false);
    if (fault === 'apiError') return refuse.statusFault({ status: 500 }, false);
    if (fault === 'drop') return refuse.drop();
    if (fault === 'hang') return refuse.hang();
    midstream = fault === 'midstream';
  }

  const admitted = admit(ctx, group, request, forced, refuse);
  if (admitted === undefined) return;
  const { usage, admittedAt } = admitted;
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
    serviceTier: opts.priorityTier && request.serviceTier === 'auto' ? 'priority' : 'standard',
    speed: request.speed,
  };
  const delivery = await deliver(ctx, res, { group, request, gen, limitHeaders, signal: abort.signal });
  served(ctx, { group, request, gen, delivery, admittedAt });
}

/** What a refusal needs of the request: its id, its group, its rate-limit headers. */
interface Exchange {
  requestId: string;
  group: string;
  limitHeaders: () => Record<string, string>;
}

/** The ways a request is refused or faulted instead of answered, each counted in the stats. */
interface Refusals {
  fail(status: number, type: string, message: string, errorCode?: string, retryAfter?: number): undefined;
  /** The connection destroyed without a response. */
  drop(): undefined;
  /** Nothing is sent; the socket stays open until the client aborts or close() destroys it. */
  hang(): undefined;
  statusFault(fault: ScriptedStatusFault, scripted: boolean): undefined;
}

function refusals(ctx: SimContext, req: IncomingMessage, res: ServerResponse, ex: Exchange): Refusals {
  const { stats } = ctx;
  const { requestId, group } = ex;
  const fail: Refusals['fail'] = (status, type, message, errorCode, retryAfter) => {
    const headers: Record<string, string> = { 'request-id': requestId, ...ex.limitHeaders() };
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    stats.status(group, status);
    sendJson(res, status, errorBody(type, message, requestId, errorCode), headers);
  };
  return {
    fail,
    drop: () => {
      stats.record(group, (c) => {
        c.drops++;
      });
      req.socket.destroy();
    },
    hang: () => {
      stats.record(group, (c) => {
        c.hangs++;
      });
    },
    statusFault: (fault, scripted) => {
      stats.record(group, (c) => {
        if (fault.status === 429) {
          c.rateLimited.total++;
          if (scripted) c.rateLimited.scripted++;
        }
        if (fault.status === 529) c.overloaded++;
        if (fault.status === 500) c.apiErrors++;
      });
      const defaults = ERROR_DEFAULTS[fault.status] ?? { type: 'api_error', message: 'Error' };
      fail(
        fault.status,
        fault.type ?? defaults.type,
        fault.message ?? defaults.message,
        fault.errorCode,
        fault.retryAfter,
      );
    },
  };
}

/** Credentials, JSON, the request's fields; `undefined` once refused. */
function validRequest(
  ctx: SimContext,
  req: IncomingMessage,
  json: unknown,
  refuse: Refusals,
): MessagesRequest | undefined {
  const { opts } = ctx;
  const denied = checkCredentials(req, opts.apiKey, opts.requireVersionHeader);
  if (denied) return refuse.fail(denied.status, denied.type, denied.message);
  if (json === undefined) {
    return refuse.fail(
      400,
      'invalid_request_error',
      'There was an issue with the formatting of your request body: invalid JSON',
    );
  }
  const validated = validateMessagesRequest(json, opts.maxOutputTokens);
  if (!validated.ok)
    return refuse.fail(validated.error.status, validated.error.type, validated.error.message);
  return validated.value;
}

/**
 * The prompt cache's plan and the group's rate limits: the usage and when the request was
 * admitted, or `undefined` after a 429.
 */
function admit(
  ctx: SimContext,
  group: string,
  request: MessagesRequest,
  forced: ScriptedFault | undefined,
  refuse: Refusals,
): { usage: CacheUsage; admittedAt: number } | undefined {
  const { opts, stats, limiter } = ctx;
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
  arrived(ctx, {
    group,
    at: opts.now(),
    inputTokens: usage.inputTokens + usage.cacheCreationInputTokens,
    maxTokens: request.maxTokens,
    admitted: admission.ok,
  });
  if (!admission.ok) {
    stats.record(group, (c) => {
      c.rateLimited.total++;
      c.rateLimited[admission.kind]++;
    });
    return refuse.fail(
      429,
      'rate_limit_error',
      rateLimitMessage(admission.resource, admission.limit),
      undefined,
      admission.retryAfterSeconds,
    );
  }
  const admittedAt = opts.now();
  // Readable by other requests once this answer's first token is out (the prompt is processed).
  plan.commit(admittedAt, admittedAt + opts.ttftMs);
  stats.record(group, (c) => {
    c.inputTokens += usage.inputTokens;
    c.cacheCreationInputTokens += usage.cacheCreationInputTokens;
    c.cacheReadInputTokens += usage.cacheReadInputTokens;
  });
  return { usage, admittedAt };
}

/** An admitted message on its way out. */
interface Outgoing {
  group: string;
  request: MessagesRequest;
  gen: Generation;
  limitHeaders: () => Record<string, string>;
  signal: AbortSignal;
}

/** Stream or send the message; the output tokens not sent are given back to the group once. */
async function deliver(ctx: SimContext, res: ServerResponse, out: Outgoing): Promise<Delivery> {
  const { opts, stats, limiter } = ctx;
  const { group, request, gen } = out;
  let settled = false;
  const settle = (sentTokens: number) => {
    if (!settled) {
      settled = true;
      limiter.refund(group, 'output_tokens', Math.max(0, request.maxTokens - sentTokens));
    }
    return out.limitHeaders();
  };
  if (request.stream) {
    stats.status(group, 200);
    const delivery = await streamMessage(res, gen, opts, out.signal, out.limitHeaders());
    settle(delivery.sentTokens);
    return delivery;
  }
  const delivery = await sendMessage(res, gen, opts, out.signal, settle);
  if (delivery.outcome === 'completed') stats.status(group, 200);
  if (delivery.outcome === 'midstream') stats.status(group, 529);
  return delivery;
}

/** The delivery's end: `onServed` and the stats. */
function served(
  ctx: SimContext,
  done: { group: string; request: MessagesRequest; gen: Generation; delivery: Delivery; admittedAt: number },
): void {
  const { group, request, gen, delivery } = done;
  const { usage } = gen;
  const now = ctx.opts.now();
  report(ctx, {
    requestId: gen.requestId,
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
    serviceTier: gen.serviceTier,
    admittedAt: done.admittedAt,
    finishedAt: now,
  });
  ctx.stats.record(group, (c) => {
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
