/**
 * Fakes for unit tests of the job processor (worker/core.ts): an Anthropic client (and provider)
 * that answers from a script, a limiter that admits at once, records in a map and a BullMQ-like
 * job. No API, no Redis.
 */
import Anthropic from '@anthropic-ai/sdk';
import { vi } from 'vitest';
import type { JobRecord } from '../../src/core/record.js';
import type { RateLimiter } from '../../src/limiter/limiter.js';
import type { AcquireOptions, CallPlan, CallResult, Deferral, Permit } from '../../src/limiter/types.js';
import { AnthropicProvider } from '../../src/providers/anthropic/provider.js';
import type { Pricing } from '../../src/providers/provider.js';
import type { JobHandle } from '../../src/worker/finish.js';
import type { RecordPort } from '../../src/worker/records.js';

export type Answer =
  | { ok: true; input?: number; output?: number; text?: string }
  | { status: number; type: string; message?: string; errorCode?: string; retryAfter?: number }
  | { network: true }
  /** Never answers; rejects when the call is aborted. */
  | { hang: true };

function events(model: string, a: { input?: number; output?: number; text?: string }) {
  const usage = {
    input_tokens: a.input ?? 12,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  return [
    {
      type: 'message_start',
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage,
      },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: a.text ?? 'hello' } },
    { type: 'content_block_stop', index: 0 },
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: a.output ?? 7 },
    },
    { type: 'message_stop' },
  ];
}

/** The real API's SSE framing of a list of events. */
export function sse(evs: ReadonlyArray<{ type: string }>): string {
  return evs.map((ev) => `event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`).join('');
}

/**
 * A real SDK client whose n-th call gets the n-th answer (then `ok`), served by a fake `fetch`:
 * the SDK's own request, stream and error code run as they do against the API. `provider` is the
 * Anthropic provider on that client, as the worker takes it.
 */
export function fakeClient(script: Answer[], okHeaders: Record<string, string> = {}, prices?: Pricing) {
  const calls: Array<Record<string, unknown>> = [];
  const headers: Array<Record<string, string>> = [];
  let n = 0;
  const fetch = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const params = JSON.parse(String(init?.body)) as Record<string, unknown>;
    calls.push(params);
    headers.push(Object.fromEntries(new Headers(init?.headers).entries()));
    const a = script[n++] ?? { ok: true };
    const id = `req_${n}`;
    const signal = init?.signal ?? undefined;
    if ('hang' in a) {
      return new Promise((_, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason ?? new Error('aborted')), {
          once: true,
        });
      });
    }
    if ('network' in a) throw new TypeError('fetch failed', { cause: new Error('ECONNRESET') });
    if ('status' in a) {
      const h = new Headers({ 'request-id': id, 'content-type': 'application/json' });
      if (a.retryAfter !== undefined) h.set('retry-after', String(a.retryAfter));
      const error = {
        type: a.type,
        message: a.message ?? `${a.type} message`,
        ...(a.errorCode ? { details: { error_code: a.errorCode } } : {}),
      };
      return new Response(JSON.stringify({ type: 'error', error, request_id: id }), {
        status: a.status,
        headers: h,
      });
    }
    return new Response(sse(events(String(params.model), a)), {
      status: 200,
      headers: { ...okHeaders, 'request-id': id, 'content-type': 'text/event-stream' },
    });
  };
  const client = new Anthropic({
    apiKey: 'sk-ant-fake',
    baseURL: 'http://fake.invalid',
    maxRetries: 0,
    fetch,
  });
  return {
    client,
    provider: new AnthropicProvider({ client, ...(prices ? { prices } : {}) }),
    calls,
    headers,
  };
}

/**
 * A limiter that admits every call at once and keeps what it was told; `deferrals` are answered
 * first (to callers that may be deferred), one per call.
 */
export function fakeLimiter(deferrals: Deferral[] = []) {
  const plans: CallPlan[] = [];
  const settled: CallResult[] = [];
  const acquire = async (
    plan: CallPlan,
    signal?: AbortSignal,
    opts?: AcquireOptions,
  ): Promise<Permit | Deferral> => {
    if (signal?.aborted) throw signal.reason;
    const d = opts?.mayDefer ? deferrals.shift() : undefined;
    if (d) return d;
    plans.push(plan);
    const permit: Permit = {
      observeSignals: () => {},
      settle: async (r) => {
        settled.push(r);
      },
    };
    return permit;
  };
  // (RateLimiter.acquire answers a Permit alone when it may not defer; the fake does too.)
  const limiter = { acquire } as Pick<RateLimiter, 'acquire'>;
  return { limiter, plans, settled };
}

/** Records in a map; `lockLost` makes the finishing write fail as if another worker held the lock. */
export function memoryRecords() {
  const saved = new Map<string, JobRecord>();
  const finals: string[] = [];
  const o = {
    saved,
    finals,
    lockLost: undefined as Error | undefined,
    port: {
      load: async (id) => {
        const r = saved.get(id);
        return r ? structuredClone(r) : null;
      },
      save: async (id, record) => {
        saved.set(id, structuredClone(record));
      },
      saveFinal: async (id, record) => {
        if (o.lockLost) throw o.lockLost;
        saved.set(id, structuredClone(record));
        finals.push(id);
      },
    } satisfies RecordPort,
  };
  return o;
}

export function fakeJob(data: unknown, over: Partial<Omit<JobHandle, 'moveToDelayed'>> = {}) {
  return {
    id: 'job-1',
    data,
    timestamp: Date.now() - 100,
    opts: {},
    moveToDelayed: vi.fn(async (_timestamp: number, _token?: string) => {}),
    ...over,
  };
}
