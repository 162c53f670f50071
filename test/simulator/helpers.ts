import type { Simulator } from '../../packages/anthropic-simulator/src/index.js';

/** A settable clock for bucket math (starts at a fixed instant so reset headers are predictable). */
export function fakeClock(start = Date.parse('2026-03-01T12:00:00Z')) {
  const clock = {
    t: start,
    now: () => clock.t,
    advance: (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}

/** Standard headers of an SDK-like request. */
export const API_HEADERS = {
  'content-type': 'application/json',
  'x-api-key': 'sk-ant-test',
  'anthropic-version': '2023-06-01',
};

/** A minimal valid Messages body. */
export function body(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'claude-sonnet-4-6',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'Hello there, simulator!' }],
    ...extra,
  };
}

/** POSTs JSON to the simulator and returns status, headers and parsed body. */
export async function post(
  sim: Simulator,
  path: string,
  payload: unknown,
  headers: Record<string, string> = API_HEADERS,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers,
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : {} };
}

/** `POST /v1/messages` with a valid body (overridable). */
export function message(sim: Simulator, extra: Record<string, unknown> = {}) {
  return post(sim, '/v1/messages', body(extra));
}

/** The error message of an error response body. */
export function errorMessage(json: Record<string, unknown>): string {
  const error = json.error as { message?: string } | undefined;
  return error?.message ?? '';
}
