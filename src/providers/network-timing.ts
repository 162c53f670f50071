/**
 * Network versus model time for each API call. Node's fetch (undici) publishes diagnostics
 * channel events for connection set-up and for request/response headers; the fetch handed to the
 * SDK runs each request in an AsyncLocalStorage context, so connection events (published in the
 * context that opened the connection) and the request object land in that request's
 * {@link NetworkTiming}. DNS and TCP come from the socket's own `lookup`/`connect` events
 * (`net.client.socket` channel). A request on a kept-alive connection has no connect phases
 * (`reused: true`).
 *
 * The response carries its timing ({@link networkTimingOf}); the worker copies it into the job
 * record and the `promptq_api_*` histograms.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import dc from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

/** Phases of one HTTP request, in ms (null when the phase did not happen). */
export interface NetworkTiming {
  /** The request went out on an existing connection: no DNS, TCP or TLS. */
  reused: boolean;
  /** Name resolution (null for IP literals and reused connections). */
  dns_ms: number | null;
  /** TCP handshake. */
  tcp_ms: number | null;
  /** TLS handshake (null for plain HTTP). */
  tls_ms: number | null;
  /** Connection set-up in total: DNS + TCP + TLS. */
  connect_ms: number | null;
  /** Request headers sent → response headers received (network round trip + API queueing). */
  ttfb_ms: number | null;
}

interface Marks {
  connectStart?: number;
  dnsDone?: number;
  tcpDone?: number;
  connected?: number;
  tls?: boolean;
  sent?: number;
  headers?: number;
}

const als = new AsyncLocalStorage<Marks>();
const byRequest = new WeakMap<object, Marks>();
const byResponse = new WeakMap<object, NetworkTiming>();
/**
 * The SDK may hand back a wrapped Response (middleware), so timings are also kept by the API's
 * `request-id` header until read; bounded, so unread entries (failed calls) cannot pile up.
 */
const byRequestId = new Map<string, NetworkTiming>();
const maxPending = 1000;
const now = () => performance.now();
let subscribed = false;

function subscribe(): void {
  if (subscribed) return;
  subscribed = true;
  dc.subscribe('undici:client:beforeConnect', () => {
    const marks = als.getStore();
    if (marks) marks.connectStart = now();
  });
  dc.subscribe('net.client.socket', (msg) => {
    const marks = als.getStore();
    const socket = (msg as { socket?: Socket }).socket;
    if (!marks || !socket) return;
    socket.once('lookup', () => {
      marks.dnsDone = now();
    });
    socket.once('connect', () => {
      marks.tcpDone = now();
    });
  });
  dc.subscribe('undici:client:connected', (msg) => {
    const marks = als.getStore();
    if (!marks) return;
    marks.connected = now();
    marks.tls = Boolean((msg as { socket?: { encrypted?: boolean } }).socket?.encrypted);
  });
  // A request may be written out later from another context (a kept-alive connection frees up):
  // header events are matched by the request object, which is created in the fetch's context.
  dc.subscribe('undici:request:create', (msg) => {
    const marks = als.getStore();
    const request = (msg as { request?: object }).request;
    if (marks && request) byRequest.set(request, marks);
  });
  dc.subscribe('undici:client:sendHeaders', (msg) => {
    const request = (msg as { request?: object }).request;
    const marks = request && byRequest.get(request);
    if (marks) marks.sent = now();
  });
  dc.subscribe('undici:request:headers', (msg) => {
    const request = (msg as { request?: object }).request;
    const marks = request && byRequest.get(request);
    if (marks && marks.headers === undefined) marks.headers = now();
  });
}

const span = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? null : Math.max(0, Math.round((b - a) * 10) / 10);

function timingOf(marks: Marks): NetworkTiming {
  const reused = marks.connectStart === undefined;
  const tcpStart = marks.dnsDone ?? marks.connectStart;
  return {
    reused,
    dns_ms: span(marks.connectStart, marks.dnsDone),
    tcp_ms: span(tcpStart, marks.tcpDone),
    tls_ms: marks.tls ? span(marks.tcpDone, marks.connected) : null,
    connect_ms: span(marks.connectStart, marks.connected),
    ttfb_ms: span(marks.sent, marks.headers),
  };
}

/**
 * A fetch for the SDK (`new Anthropic({ fetch: timedFetch() })`) that times each request's
 * network phases. `onTiming` is called once the response headers are in.
 */
export function timedFetch(
  base: typeof fetch = globalThis.fetch,
  onTiming?: (t: NetworkTiming) => void,
): typeof fetch {
  subscribe();
  return async (input, init) => {
    const marks: Marks = {};
    const res = await als.run(marks, () => base(input, init));
    const t = timingOf(marks);
    byResponse.set(res, t);
    const id = res.headers.get('request-id');
    if (id) {
      byRequestId.set(id, t);
      if (byRequestId.size > maxPending) byRequestId.delete(byRequestId.keys().next().value as string);
    }
    onTiming?.(t);
    return res;
  };
}

/** The timing of a response fetched through {@link timedFetch}, if it was. */
export function networkTimingOf(response: Response | undefined): NetworkTiming | undefined {
  if (!response) return undefined;
  const id = response.headers.get('request-id');
  const t = byResponse.get(response) ?? (id ? byRequestId.get(id) : undefined);
  if (id) byRequestId.delete(id);
  return t;
}
