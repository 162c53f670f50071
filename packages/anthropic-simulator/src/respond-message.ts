import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ContentPlan } from './content-plan.js';
import { errorBody } from './errors.js';
import { delay, sendJson } from './http-util.js';
import { messageBody, thinkingTokens } from './message-body.js';
import type { CacheUsage } from './prompt-cache.js';
import { writeEvent } from './sse.js';

/** One admitted generation to deliver. */
export interface Generation {
  requestId: string;
  messageId: string;
  model: string;
  usage: CacheUsage;
  content: ContentPlan;
  /** Fail with an overloaded error part-way through. */
  midstream: boolean;
  /** Extra latency before the first token (scripted `delayMs`). */
  extraDelayMs: number;
  /** The tier that answers (`usage.service_tier`). */
  serviceTier: 'standard' | 'priority';
  /** The speed that answers (`usage.speed`). @defaultValue standard */
  speed?: 'standard' | 'fast';
}

/** Timing knobs from the options. */
export interface Timing {
  ttftMs: number;
  msPerToken: number;
  tokensPerDelta: number;
}

/** How a delivery ended. */
export interface Delivery {
  /** Output tokens that reached the client. */
  sentTokens: number;
  outcome: 'completed' | 'midstream' | 'aborted';
}

/**
 * Non-streaming: waits as long as generating the whole answer would take, then sends it.
 * `finalHeaders` is called just before sending so the rate-limit headers reflect the refund of
 * unused output tokens, which the real API settles before replying.
 */
export async function sendMessage(
  res: ServerResponse,
  gen: Generation,
  timing: Timing,
  signal: AbortSignal,
  settle: (sentTokens: number) => Record<string, string>,
): Promise<Delivery> {
  const n = gen.content.outputTokens;
  const tokensBeforeFailure = gen.midstream ? Math.max(1, Math.floor(n / 2)) : n;
  const waitMs = gen.extraDelayMs + timing.ttftMs + tokensBeforeFailure * timing.msPerToken;
  const finished = await delay(waitMs, signal);
  const sentTokens = finished && !gen.midstream ? n : 0;
  const headers = { 'request-id': gen.requestId, ...settle(sentTokens) };
  if (!finished) return { sentTokens, outcome: 'aborted' };
  if (gen.midstream) {
    // A non-streaming call cannot fail "mid-stream": the client sees a late 529 instead.
    sendJson(res, 529, errorBody('overloaded_error', 'Overloaded', gen.requestId), headers);
    return { sentTokens, outcome: 'midstream' };
  }
  sendJson(
    res,
    200,
    messageBody(gen.messageId, gen.model, gen.content, gen.usage, n, gen.serviceTier, gen.speed),
    headers,
  );
  return { sentTokens, outcome: 'completed' };
}

/**
 * Streaming: the real API's SSE sequence (message_start, content_block_start, ping, deltas,
 * content_block_stop, message_delta, message_stop), first delta after `ttftMs`, then one delta
 * per `tokensPerDelta` tokens at `msPerToken`. Deltas are scheduled against absolute times so
 * timer granularity does not stretch long answers.
 */
export async function streamMessage(
  res: ServerResponse,
  gen: Generation,
  timing: Timing,
  signal: AbortSignal,
  headers: Record<string, string>,
): Promise<Delivery> {
  const n = gen.content.outputTokens;
  res.writeHead(200, {
    ...headers,
    'request-id': gen.requestId,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  writeEvent(res, 'message_start', {
    type: 'message_start',
    message: messageBody(gen.messageId, gen.model, null, gen.usage, 1, gen.serviceTier, gen.speed),
  });

  const start = performance.now() + gen.extraDelayMs + timing.ttftMs;
  const stopAt = gen.midstream ? Math.max(1, Math.floor(n / 2)) : n;
  let sent = 0;
  for (const [index, block] of gen.content.blocks.entries()) {
    writeEvent(res, 'content_block_start', {
      type: 'content_block_start',
      index,
      content_block: block.start,
    });
    if (index === 0) writeEvent(res, 'ping', { type: 'ping' });
    for (const { delta, tokens } of block.deltas) {
      if (gen.midstream && sent >= stopAt) {
        writeEvent(res, 'error', errorBody('overloaded_error', 'Overloaded'));
        res.end();
        return { sentTokens: sent, outcome: 'midstream' };
      }
      if (!(await delay(start + sent * timing.msPerToken - performance.now(), signal))) {
        return { sentTokens: sent, outcome: 'aborted' };
      }
      writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta });
      sent += tokens;
    }
    writeEvent(res, 'content_block_stop', { type: 'content_block_stop', index });
  }
  if (gen.midstream) {
    writeEvent(res, 'error', errorBody('overloaded_error', 'Overloaded'));
    res.end();
    return { sentTokens: sent, outcome: 'midstream' };
  }
  // As the API's: the output tokens and their breakdown are known at the end.
  const usage: Record<string, unknown> = {
    output_tokens: n,
    output_tokens_details: { thinking_tokens: thinkingTokens(gen.content) },
  };
  if (gen.content.serverToolUse) usage.server_tool_use = gen.content.serverToolUse;
  writeEvent(res, 'message_delta', {
    type: 'message_delta',
    delta: {
      stop_reason: gen.content.stopReason,
      stop_sequence: gen.content.stopSequence,
      stop_details: null,
    },
    usage,
  });
  writeEvent(res, 'message_stop', { type: 'message_stop' });
  res.end();
  return { sentTokens: n, outcome: 'completed' };
}
