/**
 * Wires a process together from the config: Redis, the events and their observers, metrics, the
 * queue, the worker (ops/start-worker.ts: the provider — the Anthropic API, or the built-in
 * simulator —, the limiter, the rollups) and the HTTP server. `start`, `worker` and `api` are this
 * with different parts switched on.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Simulator } from '@promptq/anthropic-simulator';
import { checkListenAddress, type PromptqConfig, topologyOf, urlCredentials } from '../core/config.js';
import { Logger } from '../core/log.js';
import { captureConsole, RepeatedLog } from '../core/log-repeats.js';
import { PromptqEvents } from '../events/emitter.js';
import { addressPolicy, type ResolveAll } from '../events/webhooks/address-guard.js';
import { PromptQueue } from '../producer/queue.js';
import { accountsOf } from '../providers/accounts.js';
import { ModelPolicy } from '../providers/anthropic/model-policy.js';
import { PriceTable } from '../providers/anthropic/pricing.js';
import { connectOrFail, type RedisConnection } from '../store/connection.js';
import { type EmbeddedRedis, ensureRedis } from '../store/embedded-redis.js';
import { keyspaceOf } from '../store/keys.js';
import { TenantStore } from '../store/tenant-store.js';
import type { PromptWorker } from '../worker/worker.js';
import { createApp, createOpsApp } from './http/app.js';
import { limitedServer } from './http/server-limits.js';
import { subscribeEventErrorMetric } from './metrics/event-metrics.js';
import { Metrics } from './metrics/metrics.js';
import { modelCatalogOf } from './metrics/model-labels.js';
import { registerQueueGauges } from './metrics/queue-gauges.js';
import { registerTenantGauges } from './metrics/tenant-gauges.js';
import { type RunningWorker, startWorker } from './start-worker.js';
import { subscribePace } from './streams/pace.js';
import { subscribeStreams } from './streams/recorder.js';
import { startTelemetry, type Telemetry } from './telemetry/telemetry.js';
import { type RunningWebhooks, startWebhooks } from './webhooks/webhooks.js';

export interface ServiceParts {
  api: boolean;
  worker: boolean;
  /** May start a private redis-server when none is reachable (`promptq start`). */
  embedRedis: boolean;
}

/** What a process may be handed besides its configuration. */
export interface ServiceHooks {
  /** Resolves webhook hosts for the SSRF guard, at enqueue and connect. @defaultValue the system resolver */
  resolve?: ResolveAll;
}

export interface RunningService {
  /** The HTTP address actually bound (port 0 → ephemeral). */
  url: string;
  queue: PromptQueue;
  worker: PromptWorker | undefined;
  metrics: Metrics;
  simulator: Simulator | undefined;
  /** Graceful stop: no new jobs, in-flight ones finish (bounded), servers close. */
  close(force?: boolean): Promise<void>;
}

/** What a process holds open besides its parts: closed last, in reverse. */
interface Infrastructure {
  connection: RedisConnection;
  /** The process's one source of events: the queue, the limiter and the worker emit into it. */
  events: PromptqEvents;
  embedded: EmbeddedRedis | null;
  telemetry: Telemetry | undefined;
  releaseConsole: () => void;
}

export async function runService(
  given: PromptqConfig,
  parts: ServiceParts,
  log: Logger,
  hooks: ServiceHooks = {},
): Promise<RunningService> {
  checkListenAddress(given.http);
  // A bad accounts file is a configuration error (exit 2) before anything starts.
  if (parts.worker) accountsOf(given);
  // A private redis-server only stands in for one Redis (`promptq start` on a laptop); its URL
  // carries its password.
  const embedded =
    parts.embedRedis && given.redis.mode === 'single' ? await ensureRedis(given.redis.url, log) : null;
  const config = embedded ? { ...given, redis: { ...given.redis, url: embedded.url } } : given;
  for (const secret of urlCredentials(config.redis.url)) Logger.redact(secret);
  const infrastructure = await openInfrastructure(config, embedded, log);
  const { connection, events, telemetry } = infrastructure;
  const metrics = new Metrics({ labels: config.labels, models: modelCatalogOf(config) });
  subscribeEventErrorMetric(events, metrics);
  const policy = addressPolicy(config.webhooks, hooks.resolve);
  subscribeStreams(events, { connection, keys: keyspaceOf(config), config: config.streams });
  subscribePace(events, { connection, keys: keyspaceOf(config), tuning: config.limiter.tuning });
  const queue = new PromptQueue({
    ...config,
    connection,
    modelPolicy: new ModelPolicy(config.jobs.models, PriceTable.load(config.pricingFile)),
    events,
    webhookTargets: policy,
  });
  registerQueueGauges(metrics, queue.queue, { connection, keys: queue.keys });
  registerTenantGauges(metrics, new TenantStore(connection, queue.keys));
  // Deliveries run beside the worker, on their own queue (ops/webhooks/).
  const webhooks = parts.worker ? startWebhooks({ queue, config, events, policy, log }) : undefined;
  const running = parts.worker
    ? await startWorker({
        ...config,
        connection,
        logger: log,
        metrics,
        events,
        subscribe: () =>
          telemetry?.observe(events, {
            maxModelLabels: config.labels.maxModels,
            models: modelCatalogOf(config),
          }),
      })
    : undefined;
  const server = limitedServer(
    parts.api
      ? createApp({ queue, metrics, log, http: config.http })
      : // A worker alone still serves /metrics (and health) on PORT.
        createOpsApp({
          connection,
          keys: queue.keys,
          metrics,
          log,
          http: config.http,
        }),
    config.http,
  );
  const url = await listen(server, config.http);
  logRunning(log, config, parts, url, running);
  return {
    url,
    queue,
    worker: running?.worker,
    metrics,
    simulator: running?.simulator,
    close: closer(server, queue, running, webhooks, infrastructure, config.worker.shutdownTimeoutMs),
  };
}

/** The Redis connection (a private redis-server first, for `promptq start`), console capture, telemetry. */
async function openInfrastructure(
  config: PromptqConfig,
  embedded: EmbeddedRedis | null,
  log: Logger,
): Promise<Infrastructure> {
  const connection = await connectOrFail(topologyOf(config), {
    hint:
      config.redis.mode === 'single'
        ? 'start one, or set REDIS_URL'
        : 'check REDIS_URL and PROMPTQ_REDIS_MODE',
  });
  // Every reconnect attempt fails while Redis is down: the first is logged, then a summary.
  const repeats = new RepeatedLog(log, { intervalMs: config.log.repeatIntervalMs });
  connection.on('error', (err) => repeats.warn('redis connection error', { error: err.message }));
  // Libraries' console output becomes JSON lines too (undone at close).
  const releaseConsole = captureConsole(repeats);
  // Before the first span: with no OTEL_* endpoint this loads nothing (ops/telemetry/telemetry.ts).
  const telemetry = await startTelemetry(process.env, log);
  const events = new PromptqEvents({
    log,
    queueCapacity: config.observers.queueCapacity,
    repeatIntervalMs: config.log.repeatIntervalMs,
  });
  return { connection, events, embedded, telemetry, releaseConsole };
}

/** Listen on `http.host:http.port`; the URL actually bound (port 0 → ephemeral). */
async function listen(server: Server, http: PromptqConfig['http']): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(http.port, http.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function logRunning(
  log: Logger,
  config: PromptqConfig,
  parts: ServiceParts,
  url: string,
  running: RunningWorker | undefined,
): void {
  const { worker } = config;
  const provider = running?.provider;
  log.info('promptq running', {
    url,
    queue: config.queue,
    redis: config.redis.mode,
    api: parts.api,
    worker: parts.worker,
    concurrency: parts.worker
      ? worker.adaptiveConcurrency === false
        ? worker.concurrency
        : 'adaptive'
      : undefined,
    auth: config.http.authToken !== undefined,
    ...(provider ? { [provider.name]: provider.endpoint } : {}),
  });
}

/** The service's `close`: graceful once (later calls share it), or forced. */
function closer(
  server: Server,
  queue: PromptQueue,
  running: RunningWorker | undefined,
  webhooks: RunningWebhooks | undefined,
  { connection, events, embedded, telemetry, releaseConsole }: Infrastructure,
  shutdownTimeoutMs: number,
): (force?: boolean) => Promise<void> {
  let closing: Promise<void> | undefined;
  return (force = false) => {
    if (force) {
      return (async () => {
        await running?.close(true);
        await webhooks?.close(true);
        server.closeAllConnections();
      })();
    }
    closing ??= (async () => {
      server.close();
      server.closeIdleConnections();
      // Long polls answer now, with their job's current state: they must not hold the shutdown.
      await queue.releaseWaiters();
      await running?.close();
      server.closeAllConnections();
      await queue.close();
      // What observers still owe (rollups, deliveries to add) is written while Redis is there.
      await events.idle(shutdownTimeoutMs);
      await webhooks?.close();
      events.close();
      await connection.quit().catch(() => connection.disconnect());
      await embedded?.stop();
      await telemetry?.shutdown();
      releaseConsole();
    })();
    return closing;
  };
}
