/**
 * How Amazon Bedrock and Google Vertex AI answer where the Anthropic API would: the simulator's own
 * answer (messages-handler.ts) rewritten on its way out. No `anthropic-ratelimit-*` headers and no
 * `retry-after`; errors in the provider's shape (Bedrock: `{"message"}` with `x-amzn-errortype`,
 * e.g. a 429 `ThrottlingException`; Vertex: `{"error": {"code", "message", "status"}}`, e.g. a 429
 * `RESOURCE_EXHAUSTED`); Bedrock's stream as AWS event-stream `chunk` frames (event-stream.ts).
 */
import type { ServerResponse } from 'node:http';
import { bedrockChunk } from './event-stream.js';

export type Dialect = 'bedrock' | 'vertex';

/** Status → Bedrock's exception (and the status Bedrock answers with). */
const bedrockErrors: Readonly<Record<number, { status: number; type: string }>> = {
  400: { status: 400, type: 'ValidationException' },
  401: { status: 403, type: 'UnrecognizedClientException' },
  403: { status: 403, type: 'AccessDeniedException' },
  404: { status: 404, type: 'ResourceNotFoundException' },
  413: { status: 400, type: 'ValidationException' },
  429: { status: 429, type: 'ThrottlingException' },
  500: { status: 500, type: 'InternalServerException' },
  529: { status: 503, type: 'ServiceUnavailableException' },
};

/** Status → Google's canonical error status. */
const vertexStatuses: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  529: 'UNAVAILABLE',
};

/** A provider's error answer: status, headers and body. */
export function providerError(
  dialect: Dialect,
  status: number,
  message: string,
): { status: number; headers: Record<string, string>; body: unknown } {
  if (dialect === 'bedrock') {
    const e = bedrockErrors[status] ?? {
      status,
      type: status >= 500 ? 'InternalServerException' : 'ValidationException',
    };
    return {
      status: e.status,
      headers: { 'x-amzn-errortype': `${e.type}:http://internal.amazon.com/coral/com.amazon.bedrock/` },
      body: { message },
    };
  }
  const googleStatus = vertexStatuses[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
  return { status, headers: {}, body: { error: { code: status, message, status: googleStatus } } };
}

/** Send a provider's error answer. */
export function sendProviderError(
  res: ServerResponse,
  dialect: Dialect,
  status: number,
  message: string,
  requestId: string,
): void {
  const e = providerError(dialect, status, message);
  const payload = JSON.stringify(e.body);
  res.writeHead(e.status, {
    ...e.headers,
    ...requestIdHeader(dialect, requestId),
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(payload)),
  });
  res.end(payload);
}

function requestIdHeader(dialect: Dialect, id: string): Record<string, string> {
  return dialect === 'bedrock' ? { 'x-amzn-requestid': id } : { 'x-request-id': id };
}

/** The Anthropic answer's headers as the provider sends them: no rate-limit headers, its request id. */
function providerHeaders(
  dialect: Dialect,
  headers: Record<string, unknown> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const n = name.toLowerCase();
    if (n.startsWith('anthropic-ratelimit-') || n === 'retry-after' || n === 'content-length') continue;
    if (n === 'request-id') Object.assign(out, requestIdHeader(dialect, String(value)));
    else out[n] = String(value);
  }
  return out;
}

/** What the rewritten answer came to: its status, and the output tokens its usage reported. */
export interface WireResult {
  status: number;
  outputTokens: number | undefined;
}

/**
 * Rewrite everything the simulator writes to `res` into the provider's wire format. `done` is
 * called once, when the answer ends.
 */
export function adaptResponse(res: ServerResponse, dialect: Dialect, done: (r: WireResult) => void): void {
  const writeHead = res.writeHead.bind(res) as (s: number, h: Record<string, string>) => ServerResponse;
  const write = res.write.bind(res) as (c: Buffer | string) => boolean;
  const end = res.end.bind(res) as (c?: Buffer | string) => ServerResponse;
  let status = 200;
  let mode: 'pass' | 'error' | 'events' = 'pass';
  let headers: Record<string, string> = {};
  let text = '';
  let outputTokens: number | undefined;
  const sniff = (data: string) => {
    const tokens = usageOutputTokens(data);
    if (tokens !== undefined) outputTokens = tokens;
  };
  const events = (chunk: string, flush: boolean) => {
    text += chunk;
    const frames = text.split('\n\n');
    text = flush ? '' : (frames.pop() ?? '');
    for (const frame of frames) {
      const data = frame
        .split('\n')
        .find((l) => l.startsWith('data: '))
        ?.slice(6);
      if (data === undefined) continue;
      sniff(data);
      if (mode === 'events') write(bedrockChunk(JSON.parse(data)));
    }
  };
  const adapted = {
    writeHead(code: number, h?: Record<string, unknown>) {
      status = code;
      headers = providerHeaders(dialect, h);
      if (code >= 400) {
        mode = 'error';
        return res;
      }
      if (dialect === 'bedrock' && headers['content-type']?.startsWith('text/event-stream')) {
        mode = 'events';
        headers['content-type'] = 'application/vnd.amazon.eventstream';
      }
      return writeHead(code, headers);
    },
    write(chunk: Buffer | string) {
      const s = chunk.toString();
      if (mode === 'error') text += s;
      else if (mode === 'events' || headers['content-type']?.startsWith('text/event-stream')) {
        events(s, false);
        if (mode === 'events') return true;
      }
      return mode === 'error' ? true : write(chunk);
    },
    end(chunk?: Buffer | string) {
      if (chunk !== undefined && typeof chunk !== 'function') adapted.write(chunk);
      if (mode === 'error') {
        const e = providerError(dialect, status, errorMessage(text));
        status = e.status;
        const payload = JSON.stringify(e.body);
        writeHead(e.status, { ...headers, ...e.headers, 'content-type': 'application/json' });
        end(payload);
      } else {
        if (mode !== 'pass' || headers['content-type']?.startsWith('text/event-stream')) events('', true);
        else sniff(text);
        end();
      }
      done({ status, outputTokens });
      return res;
    },
  };
  // Non-streamed JSON bodies are collected for their usage as they pass.
  const passWrite = adapted.write;
  adapted.write = (chunk: Buffer | string) => {
    if (mode === 'pass' && !headers['content-type']?.startsWith('text/event-stream'))
      text += chunk.toString();
    return passWrite(chunk);
  };
  Object.assign(res, adapted);
}

/** The Anthropic error body's message. */
function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } };
    return typeof parsed.error?.message === 'string' ? parsed.error.message : 'Error';
  } catch {
    return 'Error';
  }
}

/** `usage.output_tokens` of a message, or of a stream's `message_delta`. */
function usageOutputTokens(data: string): number | undefined {
  try {
    const parsed = JSON.parse(data) as { usage?: { output_tokens?: unknown }; type?: string };
    const n = parsed.usage?.output_tokens;
    return typeof n === 'number' && (parsed.type === 'message' || parsed.type === 'message_delta')
      ? n
      : undefined;
  } catch {
    return undefined;
  }
}
