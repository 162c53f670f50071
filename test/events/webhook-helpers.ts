/**
 * A webhook receiver (a real HTTP server on a random port, answering as each test scripts it) and a
 * promptq service configured as a user would (environment), with fast delivery backoff.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { loadConfig, type PromptqConfig, resolveConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import type { ResolveAll } from '../../src/events/webhooks/address-guard.js';
import { type RunningService, runService } from '../../src/ops/service.js';
import { testApiKey, uniqueQueue } from '../helpers/stack.js';
import { redisEnv } from '../helpers/topology.js';

export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** A `PROMPTQ_SECRETS_KEY`: the master secret of tenants' webhook secrets at rest. */
export function newSecretsKey(): string {
  return randomBytes(32).toString('base64');
}

export interface Received {
  headers: Record<string, string>;
  body: string;
  status: number;
  path: string;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  close(): Promise<void>;
}

/** `answer` decides each request's status (it may also hold the response: return `null`). */
export async function startReceiver(
  answer: (req: IncomingMessage, body: string, res: ServerResponse) => number | null,
): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const status = answer(req, body, res);
      received.push({
        headers: req.headers as Record<string, string>,
        body,
        status: status ?? 0,
        path: req.url ?? '',
      });
      if (status !== null) res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface WebhookStack {
  sim: Simulator;
  svc: RunningService;
  config: PromptqConfig;
  url: string;
  logs: string[];
  close(): Promise<void>;
}

/** Simulator + promptq (API and worker) on a unique queue; delivery retries 100 ms apart. */
export async function startWebhookStack(
  env: Record<string, string>,
  resolve?: ResolveAll,
  queue = uniqueQueue(),
  simOptions: SimulatorOptions = {},
): Promise<WebhookStack> {
  const sim = await startSimulator({ seed: 1, ...simOptions });
  const base = loadConfig({
    ...redisEnv(),
    ANTHROPIC_API_KEY: testApiKey,
    ANTHROPIC_BASE_URL: sim.url,
    PROMPTQ_QUEUE: queue,
    PORT: '0',
    PROMPTQ_RETRY_BASE_MS: '20',
    ...env,
  });
  const config = resolveConfig({
    ...base,
    webhooks: { ...base.webhooks, backoffBaseMs: 100, backoffMaxMs: 400, retryPeriodSeconds: 3 },
  });
  const logs: string[] = [];
  const log = new Logger('debug', (line) => logs.push(line));
  const svc = await runService(
    config,
    { api: true, worker: true, embedRedis: false },
    log,
    resolve === undefined ? {} : { resolve },
  );
  return {
    sim,
    svc,
    config,
    url: svc.url,
    logs,
    async close() {
      await svc.close();
      await sim.close();
    },
  };
}

export async function until<T>(
  f: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
