/**
 * `promptq probe [--count N] [--url URL]`: measures the network path to the Anthropic API, phase by
 * phase — DNS, TCP connect, TLS handshake, then a minimal request (`GET /v1/models`) on a fresh
 * connection (time to first byte, total) — and prints a table. The slowest part of an LLM call
 * that is not the model is often this path; the probe shows it without spending tokens.
 *
 * Without `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` it probes the built-in simulator (and says
 * so). The key is sent as the API expects and never printed.
 */
import { lookup } from 'node:dns/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { textTable } from '../../core/format.js';
import { quantile } from '../../core/stats.js';
import { type NetworkTiming, timedFetch } from '../network-timing.js';

export interface ProbeRun {
  dns_ms: number | null;
  tcp_ms: number;
  tls_ms: number | null;
  /** The minimal request on its own fresh connection, as the worker's fetch times it. */
  request: NetworkTiming;
  total_ms: number;
  status: number;
}

const since = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

function once(socket: Socket, event: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${event}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** One probe: DNS, TCP, TLS by hand, then the request through a timed fetch on a new connection. */
export async function probeOnce(
  base: URL,
  apiKey: string | undefined,
  timeoutMs = 10_000,
): Promise<ProbeRun> {
  const https = base.protocol === 'https:';
  const port = Number(base.port || (https ? 443 : 80));
  const host = base.hostname.replace(/^\[|\]$/g, '');
  let address = host;
  let dns: number | null = null;
  if (isIP(host) === 0) {
    const t0 = performance.now();
    address = (await lookup(host)).address;
    dns = since(t0);
  }
  const t1 = performance.now();
  const socket = netConnect({ host: address, port });
  await once(socket, 'connect', timeoutMs);
  const tcp = since(t1);
  let tls: number | null = null;
  if (https) {
    const t2 = performance.now();
    const secure = tlsConnect({ socket, servername: isIP(host) === 0 ? host : undefined });
    await once(secure as unknown as Socket, 'secureConnect', timeoutMs);
    tls = since(t2);
    secure.destroy();
  }
  socket.destroy();

  // `connection: close` keeps each run on its own connection, so every run shows the set-up.
  const headers: Record<string, string> = { 'anthropic-version': '2023-06-01', connection: 'close' };
  if (apiKey) headers['x-api-key'] = apiKey;
  let timing: NetworkTiming | undefined;
  const f = timedFetch(globalThis.fetch, (t) => {
    timing = t;
  });
  const t3 = performance.now();
  const res = await f(new URL('v1/models', base.href.endsWith('/') ? base : `${base.href}/`), {
    headers,
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer();
  const total = since(t3);
  return {
    dns_ms: dns,
    tcp_ms: tcp,
    tls_ms: tls,
    request: timing ?? {
      reused: false,
      dns_ms: null,
      tcp_ms: null,
      tls_ms: null,
      connect_ms: null,
      ttfb_ms: null,
    },
    total_ms: total,
    status: res.status,
  };
}

/** The middle run (nearest rank: the lower of the two middle ones for an even count). */
const median = (xs: Array<number | null>): number | null =>
  quantile(
    xs.filter((x): x is number => x !== null),
    0.5,
  );

export function formatProbe(url: string, runs: ProbeRun[]): string {
  const ms = (v: number | null) => (v === null ? '-' : v.toFixed(1));
  const rows: Array<[string, (r: ProbeRun) => number | null]> = [
    ['DNS lookup', (r) => r.dns_ms],
    ['TCP connect', (r) => r.tcp_ms],
    ['TLS handshake', (r) => r.tls_ms],
    ['request: connection set-up', (r) => r.request.connect_ms],
    ['request: time to first byte', (r) => r.request.ttfb_ms],
    ['request: total', (r) => r.total_ms],
  ];
  const head = ['phase (ms)', ...runs.map((_, i) => `run ${i + 1}`), 'median'];
  const body = rows.map(([name, get]) => [name, ...runs.map((r) => ms(get(r))), ms(median(runs.map(get)))]);
  const statuses = [...new Set(runs.map((r) => r.status))].join(', ');
  const note = [
    'Connection set-up is paid once per connection (workers keep connections alive);',
    'time to first byte is paid on every call, before the model generates anything.',
  ].join('\n');
  return `promptq probe: ${url} (GET /v1/models, HTTP ${statuses})\n\n${textTable(head, body)}\n\n${note}\n`;
}
