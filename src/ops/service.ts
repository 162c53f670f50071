/**
 * Wires a process together from the config: Redis, the provider (providers/registry.ts: the
 * Anthropic API, or the built-in simulator), the events and their subscribers, metrics, the
 * limiter, the worker and the HTTP server. `start`, `worker` and `api` are this with different
 * parts switched on.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Simulator } from '@promptq/anthropic-simulator';
import { checkListenAddress, jobLimitsFrom, type PromptqConfig, topologyOf } from '../core/config.js';
import { defaults } from '../core/defaults.js';
import type { Logger } from '../core/log.js';
import { captureConsole, RepeatedLog } from '../core/log-repeats.js';
import { PromptqEvents } from '../events/emitter.js';
import { RateLimiter } from '../limiter/limiter.js';
import { PromptQueue } from '../producer/queue.js';
import { ModelPolicy } from '../providers/anthropic/model-policy.js';
import { PriceTable } from '../providers/anthropic/pricing.js';
import type { Provider } from '../providers/provider.js';
import { createProvider } from '../providers/registry.js';
import { connectOrFail, keyspaceOf } from '../store/connection.js';
import { type EmbeddedRedis, ensureRedis } from '../store/embedded-redis.js';
import { queueKeys } from '../store/keys.js';
import { TenantStore } from '../store/tenant-store.js';
import { PromptWorker } from '../worker/worker.js';
import { createApp, createOpsApp } from './http/app.js';
import { subscribeEventErrorMetric } from './metrics/event-metrics.js';
import { subscribeLimiterMetrics } from './metrics/limiter-metrics.js';
import { Metrics } from './metrics/metrics.js';
import { registerQueueGauges } from './metrics/queue-gauges.js';
import { subscribeRollups } from './metrics/rollup-subscriber.js';
import { RollupWriter } from './metrics/rollups.js';
import { registerTenantGauges } from './metrics/tenant-gauges.js';
import { subscribeWorkerMetrics } from './metrics/worker-metrics.js';
import { startTelemetry } from './telemetry/telemetry.js';

export interface ServiceParts {
  api: boolean;
  worker: boolean;
  /** May start a private redis-server when none is reachable (`promptq start`). */
  embedRedis: boolean;
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

export async function runService(
  config: PromptqConfig,
  parts: ServiceParts,
  log: Logger,
): Promise<RunningService> {
  checkListenAddress(config);
  let embedded: EmbeddedRedis | null = null;
  // A private redis-server only stands in for one Redis (`promptq start` on a laptop).
  if (parts.embedRedis && config.redisMode === 'single') embedded = await ensureRedis(config.redisUrl, log);
  const connection = await connectOrFail(topologyOf(config), {
    hint:
      config.redisMode === 'single'
        ? 'start one, or set REDIS_URL'
        : 'check REDIS_URL and PROMPTQ_REDIS_MODE',
  });
  // Every reconnect attempt fails while Redis is down: the first is logged, then a summary.
  const repeats = new RepeatedLog(log);
  connection.on('error', (err) => repeats.warn('redis connection error', { error: err.message }));
  // Libraries' console output becomes JSON lines too (undone at close).
  const releaseConsole = captureConsole(repeats);
  // On a cluster every key of the queue (BullMQ's and promptq's) shares the queue's hash tag.
  const keyspace = keyspaceOf(config.redisMode);
  const keys = queueKeys(config.queue, keyspace);
  // Before the first span: with no OTEL_* endpoint this loads nothing (ops/telemetry/telemetry.ts).
  const telemetry = await startTelemetry(process.env, log);
  const prices = PriceTable.load(config.pricingFile);
  const metrics = new Metrics({
    maxTenantLabels: config.maxTenantLabels,
    maxModelLabels: config.maxModelLabels,
  });
  // The process's one source of events: the queue, the limiter and the worker emit into it.
  const events = new PromptqEvents({ log });
  subscribeEventErrorMetric(events, metrics);
  const queue = new PromptQueue({
    connection,
    queue: config.queue,
    ...keyspace,
    jobLimits: jobLimitsFrom(config),
    keepCompletedSeconds: config.keepCompletedSeconds,
    keepFailedSeconds: config.keepFailedSeconds,
    waiters: { maxWaiters: config.maxWaiters },
    models: new ModelPolicy(config.models, prices),
    events,
  });
  registerQueueGauges(metrics, queue.queue);
  const tenants = new TenantStore(connection, queue.keys);
  registerTenantGauges(metrics, tenants);

  let worker: PromptWorker | undefined;
  let provider: Provider | undefined;
  let limiter: RateLimiter | undefined;
  if (parts.worker) {
    provider = await createProvider('anthropic', config, log);
    limiter = new RateLimiter({
      redis: connection,
      ...keyspace,
      // One shared state per account: the provider's fingerprint of it, never a secret.
      account: provider.account,
      ceilings: { rpm: config.maxRpm, itpm: config.maxItpm, otpm: config.maxOtpm },
      tuning: {
        target: config.targetUtilization,
        overloadBaseMs: config.retryBaseMs,
        overloadMaxMs: config.retryMaxMs,
      },
      events,
    });
    subscribeLimiterMetrics(events, metrics, log);
    // Queue-wide per-minute figures for /dashboard and `promptq report`.
    const rollups = new RollupWriter({
      connection,
      queue: config.queue,
      ...keyspace,
      tenantLabel: (t) => metrics.tenantLabel(t),
      modelLabel: (m) => metrics.modelLabel(m),
    });
    worker = new PromptWorker({
      connection,
      queue: config.queue,
      prefix: keys.prefix,
      provider,
      limiter,
      prices: provider.prices,
      log,
      events,
      concurrency: config.concurrency,
      ...(config.concurrencyExplicit ? {} : { adaptiveConcurrency: defaults.adaptiveConcurrency }),
      maxAttempts: config.maxAttempts,
      maxRateLimited: config.maxRateLimited,
      fallbackAfterOverloaded: config.fallbackAfterOverloaded,
      backoff: { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs },
      requestTimeoutMs: config.requestTimeoutMs,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      logPrompts: config.logPrompts,
      jobLimits: jobLimitsFrom(config),
      keepCompletedSeconds: config.keepCompletedSeconds,
      keepFailedSeconds: config.keepFailedSeconds,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: config.stalledIntervalMs,
    });
    subscribeWorkerMetrics(events, metrics);
    subscribeRollups(events, rollups);
    telemetry?.observe(events, { maxModelLabels: config.maxModelLabels });
    await worker.start();
  }

  let server: Server;
  if (parts.api) {
    server = createServer(
      createApp({
        queue,
        metrics,
        log,
        authToken: config.authToken,
        metricsToken: config.metricsToken,
        boardReadOnly: config.boardReadOnly,
      }),
    );
  } else {
    // A worker alone still serves /metrics (and health) on PORT.
    server = createServer(
      createOpsApp({
        connection,
        keys: queue.keys,
        metrics,
        log,
        authToken: config.authToken,
        metricsToken: config.metricsToken,
      }),
    );
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  log.info('promptq running', {
    url,
    queue: config.queue,
    redis: config.redisMode,
    api: parts.api,
    worker: parts.worker,
    concurrency: parts.worker ? (config.concurrencyExplicit ? config.concurrency : 'adaptive') : undefined,
    auth: config.authToken !== undefined,
    ...(provider ? { [provider.name]: provider.endpoint } : {}),
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    queue,
    worker,
    metrics,
    simulator: provider?.simulator,
    close(force = false) {
      if (force) {
        return (async () => {
          await worker?.close(true);
          server.closeAllConnections();
        })();
      }
      closing ??= (async () => {
        server.close();
        server.closeIdleConnections();
        // Long polls answer now, with their job's current state: they must not hold the shutdown.
        await queue.releaseWaiters();
        await worker?.close();
        await limiter?.close();
        server.closeAllConnections();
        await queue.close();
        // What observers still owe (rollups) is written while Redis is there (the worker waited).
        await events.idle(config.shutdownTimeoutMs);
        events.close();
        await connection.quit().catch(() => connection.disconnect());
        await provider?.close();
        await embedded?.stop();
        await telemetry?.shutdown();
        releaseConsole();
      })();
      return closing;
    },
  };
}
