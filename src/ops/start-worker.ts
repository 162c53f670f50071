/**
 * A worker with everything it needs, from settings: the provider (the Anthropic API, or the built-in
 * simulator when there is no API key: providers/registry.ts), the shared limiter of the provider's
 * account, the events and their observers (metrics, rollups). `promptq start|worker` run it
 * (ops/service.ts); library users call {@link startWorker} in their own process (docs/library.md).
 */
import type { Simulator } from '@promptq/anthropic-simulator';
import { Collector } from '../batches/collector.js';
import { type PromptqConfig, type PromptqOptions, resolveConfig, topologyOf } from '../core/config.js';
import { Logger } from '../core/log.js';
import { PromptqEvents } from '../events/emitter.js';
import { AccountRouter } from '../limiter/account-router.js';
import { RateLimiter } from '../limiter/limiter.js';
import { PrefixAffinity } from '../limiter/prefix-affinity.js';
import type { Provider } from '../providers/provider.js';
import { createAccountProviders } from '../providers/registry.js';
import { unservedProvider } from '../providers/unserved.js';
import { connectOrFail, type RedisConnection } from '../store/connection.js';
import { type Keyspace, keyspaceOf } from '../store/keys.js';
import { PromptWorker } from '../worker/worker.js';
import { subscribeAccountMetrics } from './metrics/account-metrics.js';
import { subscribeEventErrorMetric } from './metrics/event-metrics.js';
import { subscribeLimiterMetrics } from './metrics/limiter-metrics.js';
import { Metrics } from './metrics/metrics.js';
import { modelCatalogOf } from './metrics/model-labels.js';
import { subscribeRollups } from './metrics/rollup-subscriber.js';
import { RollupWriter } from './metrics/rollups.js';
import { subscribeWorkerMetrics } from './metrics/worker-metrics.js';

/** Settings (any part of the configuration, core/settings.ts) and what a process may share with the worker. */
export interface StartWorkerOptions extends PromptqOptions {
  /** A connection to use (not closed by `close`). @defaultValue one to `redis.url`, closed by `close` */
  connection?: RedisConnection | undefined;
  /** @defaultValue a logger at `log.level` */
  logger?: Logger | undefined;
  /** Where the worker's and the limiter's metrics go. @defaultValue a new {@link Metrics} */
  metrics?: Metrics | undefined;
  /**
   * The process's one event source, shared with its queue (`queued`) and other observers; its
   * listener errors are counted in `metrics` by whoever made it. @defaultValue a new one, closed by `close`
   */
  events?: PromptqEvents | undefined;
  /** Called before the worker takes its first job: add listeners here (`worker.on('finished', …)`). */
  subscribe?: ((worker: PromptWorker) => void) | undefined;
}

export interface RunningWorker {
  /** Subscribe to its events with `worker.on(…)`. */
  readonly worker: PromptWorker;
  readonly limiter: RateLimiter;
  /** The first account's provider (the only one without an accounts file). */
  readonly provider: Provider;
  /** Every account's provider and limiter (one without an accounts file). */
  readonly router: AccountRouter;
  readonly config: PromptqConfig;
  readonly keys: Keyspace;
  readonly metrics: Metrics;
  /** The built-in simulator answering the calls (no API key), else `undefined`. */
  readonly simulator: Simulator | undefined;
  /**
   * Stop taking jobs; in-flight ones finish (at most `worker.shutdownTimeoutMs`, then they return to
   * the queue). `force`: abort them now. Then the limiter, the provider (its simulator) and what the
   * worker opened itself (its connection, its events) close.
   */
  close(force?: boolean): Promise<void>;
}

/** Start a worker on the queue the settings name; resolves once it takes jobs. */
export async function startWorker(options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const {
    connection: given,
    logger,
    metrics: givenMetrics,
    events: givenEvents,
    subscribe,
    ...settings
  } = options;
  const config = resolveConfig(settings);
  const log = logger ?? new Logger(config.log.level);
  const metrics = givenMetrics ?? new Metrics({ labels: config.labels, models: modelCatalogOf(config) });
  const connection = given ?? (await connectOrFail(topologyOf(config), { hint: 'check redis.url' }));
  const keys = keyspaceOf(config);
  const events = givenEvents ?? ownEvents(config, log, metrics);
  const providers = await createAccountProviders(config, log);
  // One shared limiter state per account: the provider's fingerprint of it, never a secret.
  const pooled = providers.map((p) => ({
    provider: p,
    limiter: new RateLimiter({ redis: connection, account: p.account, keys, config: config.limiter, events }),
  }));
  const router = new AccountRouter(pooled, {
    affinity: new PrefixAffinity(connection, keys, () => config.limiter.tuning.cacheTtlMs),
    affinityWaitMs: () => config.limiter.tuning.cacheWriteWaitMs,
    unserved: unservedProvider,
  });
  const [{ provider, limiter }] = pooled as [(typeof pooled)[number]];
  const worker = new PromptWorker({
    connection,
    keys,
    config,
    provider,
    limiter,
    // One account: the router would only add a step.
    router: pooled.length > 1 || config.accountsFile !== undefined ? router : undefined,
    prices: provider.prices,
    log,
    events,
  });
  subscribeObservers(events, { connection, keys, config, metrics, log });
  subscribe?.(worker);
  await worker.start();
  // Jobs routed `batch` go through Message Batches: one collector active across processes.
  const collector =
    config.routing.collector && provider.batches !== undefined
      ? new Collector({ connection, keys, config, provider, prices: provider.prices, events, log })
      : undefined;
  collector?.start();
  return {
    worker,
    limiter,
    provider,
    router,
    config,
    keys,
    metrics,
    simulator: provider.simulator,
    async close(force = false) {
      await collector?.stop();
      await worker.close(force);
      if (force) return;
      for (const p of pooled) await p.limiter.close();
      if (givenEvents === undefined) events.close();
      for (const p of pooled) await p.provider.close();
      if (given === undefined) await connection.quit().catch(() => connection.disconnect());
    },
  };
}

/** A worker's own event source, its listener errors counted in its metrics. */
function ownEvents(config: PromptqConfig, log: Logger, metrics: Metrics): PromptqEvents {
  const events = new PromptqEvents({
    log,
    queueCapacity: config.observers.queueCapacity,
    repeatIntervalMs: config.log.repeatIntervalMs,
  });
  subscribeEventErrorMetric(events, metrics);
  return events;
}

/** The observers every worker has: the limiter's and the jobs' metrics, the dashboard's rollups. */
function subscribeObservers(
  events: PromptqEvents,
  parts: {
    connection: RedisConnection;
    keys: Keyspace;
    config: PromptqConfig;
    metrics: Metrics;
    log: Logger;
  },
): void {
  const { metrics } = parts;
  subscribeLimiterMetrics(events, metrics, parts.log);
  subscribeWorkerMetrics(events, metrics);
  subscribeAccountMetrics(events, metrics);
  // Queue-wide per-minute figures for /dashboard and `promptq report`.
  const rollups = new RollupWriter({
    connection: parts.connection,
    keys: parts.keys,
    retention: parts.config.rollups,
    tenantLabel: (t) => metrics.tenantLabel(t),
    modelLabel: (m) => metrics.modelLabel(m),
  });
  subscribeRollups(events, rollups);
}
