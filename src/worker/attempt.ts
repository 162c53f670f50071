/**
 * One API attempt: a streaming `messages.create` through the SDK (its own retries off), timed for
 * time to first token and total latency, the streamed events folded back into a Message.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { AttemptTimeoutError } from '../anthropic/classify.js';
import { type NetworkTiming, networkTimingOf } from '../anthropic/network-timing.js';
import type { JobRequest } from '../core/job.js';

export interface AttemptResult {
  message: Anthropic.Message;
  headers: Headers;
  requestId: string | null;
  statusCode: number;
  /** Request sent → first content delta. */
  ttftMs: number | null;
  /** Request sent → message_stop. */
  latencyMs: number;
  /** Connection set-up and time to first byte, when the client's fetch was timed. */
  network?: NetworkTiming | undefined;
}

/** The request as the API takes it (promptq's own fields removed). */
export function apiParams(request: JobRequest): Anthropic.MessageCreateParamsStreaming {
  const { tenant_id: _tenant, ...params } = request;
  return { ...(params as Anthropic.MessageCreateParamsNonStreaming), stream: true };
}

type Block = Record<string, unknown> & { type: string };

/** Fold stream events into the final message (text, tool_use JSON, thinking). */
function apply(
  state: { message: Anthropic.Message | null; json: Map<number, string> },
  ev: Anthropic.RawMessageStreamEvent,
): void {
  switch (ev.type) {
    case 'message_start':
      state.message = { ...ev.message, content: [] };
      break;
    case 'content_block_start':
      (state.message?.content as Block[] | undefined)?.splice(ev.index, 0, {
        ...(ev.content_block as unknown as Block),
      });
      break;
    case 'content_block_delta': {
      const block = (state.message?.content as Block[] | undefined)?.[ev.index];
      if (!block) break;
      const d = ev.delta as unknown as Record<string, unknown>;
      if (d.type === 'text_delta') block.text = `${(block.text as string) ?? ''}${d.text as string}`;
      else if (d.type === 'thinking_delta')
        block.thinking = `${(block.thinking as string) ?? ''}${d.thinking as string}`;
      else if (d.type === 'signature_delta') block.signature = d.signature;
      else if (d.type === 'input_json_delta')
        state.json.set(ev.index, (state.json.get(ev.index) ?? '') + (d.partial_json as string));
      break;
    }
    case 'content_block_stop': {
      const block = (state.message?.content as Block[] | undefined)?.[ev.index];
      const json = state.json.get(ev.index);
      if (block && json !== undefined) block.input = json === '' ? {} : JSON.parse(json);
      break;
    }
    case 'message_delta':
      if (state.message) {
        state.message.stop_reason = ev.delta.stop_reason;
        state.message.stop_sequence = ev.delta.stop_sequence;
        const u = ev.usage as unknown as Record<string, number | null>;
        const usage = state.message.usage as unknown as Record<string, unknown>;
        for (const [k, v] of Object.entries(u)) if (v !== null && v !== undefined) usage[k] = v;
      }
      break;
    default:
      break;
  }
}

/** Run one attempt. Throws SDK errors, or {@link AttemptTimeoutError} when `timeoutMs` passes. */
export async function runAttempt(
  client: Anthropic,
  request: JobRequest,
  timeoutMs: number,
  signal?: AbortSignal,
  onHeaders?: (headers: Headers) => void,
): Promise<AttemptResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new AttemptTimeoutError(timeoutMs)), timeoutMs);
  const onOuterAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  const started = performance.now();
  try {
    const {
      data: stream,
      response,
      request_id,
    } = await client.messages
      .create(apiParams(request), { signal: controller.signal, maxRetries: 0, timeout: timeoutMs })
      .withResponse();
    onHeaders?.(response.headers);
    const state = { message: null as Anthropic.Message | null, json: new Map<number, string>() };
    let ttftMs: number | null = null;
    let stopped = false;
    for await (const ev of stream) {
      if (ttftMs === null && ev.type === 'content_block_delta') ttftMs = performance.now() - started;
      apply(state, ev);
      if (ev.type === 'message_stop') stopped = true;
    }
    // An abort ends the SDK's iterator quietly: turn it back into the error it was.
    if (controller.signal.aborted) throw controller.signal.reason;
    if (!state.message || !stopped) throw new Error('the stream ended before message_stop');
    return {
      message: state.message,
      headers: response.headers,
      requestId: request_id ?? response.headers.get('request-id'),
      statusCode: response.status,
      ttftMs: ttftMs === null ? null : Math.round(ttftMs),
      latencyMs: Math.round(performance.now() - started),
      network: networkTimingOf(response),
    };
  } catch (err) {
    if (controller.signal.aborted && controller.signal.reason instanceof AttemptTimeoutError) {
      throw controller.signal.reason;
    }
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onOuterAbort);
  }
}
