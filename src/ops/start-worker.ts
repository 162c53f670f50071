/**
 * A worker with everything it needs, from settings: the Anthropic client (or the built-in simulator
 * when there is no API key), the shared limiter of the key's account, the rollups, the metrics.
 * `promptq start|worker` run it (ops/service.ts); library users call {@link startWorker} in their
 * own process (docs/library.md).
 */
import type { Simulator } from '@promptq/anthropic-simulator';
import { type PromptqConfig, type PromptqOptions, resolveConfig, topologyOf } from '../core/config.js';
import { Logger } from '../core/log.js';
import { accountFingerprint, RateLimiter } from '../limiter/limiter.js';
import { anthropicClient } from '../providers/anthropic/client.js';
import { PriceTable } from '../providers/anthropic/pricing.js';
import { connectOrFail, type RedisConnection } from '../store/connection.js';
import { type Keyspace, keyspaceOf } from '../store/keys.js';
import { PromptWorker } from '../worker/worker.js';
import { limiterHooks } from './metrics/limiter-metrics.js';
import { Metrics } from './metrics/metrics.js';
import { subscribeRollups } from './metrics/rollup-subscriber.js';
import { RollupWriter } from './metrics/rollups.js';
import { subscribeWorkerMetrics } from './metrics/worker-metrics.js';

/** Settings (any part of the configuration, settings.ts) and what a process may share with the worker. */
export interface StartWorkerOptions extends PromptqOptions {
  /** A connection to use (not closed by `close`). @defaultValue one to `redis.url`, closed by `close` */
  connection?: RedisConnection | undefined;
  /** @defaultValue a logger at `log.level` */
  logger?: Logger | undefined;
  /** Where the worker's and the limiter's metrics go. @defaultValue a new {@link Metrics} */
  metrics?: Metrics | undefined;
  /** @defaultValue the built-in price list, or `pricingFile` */
  prices?: PriceTable | undefined;
  /** Called before the worker takes its first job: add listeners here (`worker.on('finished', …)`). */
  subscribe?: ((worker: PromptWorker) => void) | undefined;
}

export interface RunningWorker {
  /** Subscribe to its events with `worker.on(…)`. */
  readonly worker: PromptWorker;
  readonly limiter: RateLimiter;
  readonly config: PromptqConfig;
  readonly keys: Keyspace;
  readonly metrics: Metrics;
  /** The built-in simulator answering the calls (no API key), else `undefined`. */
  readonly simulator: Simulator | undefined;
  /**
   * Stop taking jobs; in-flight ones finish (at most `worker.shutdownTimeoutMs`, then they return to
   * the queue). `force`: abort them now. Then the limiter, the simulator and its own connection close.
   */
  close(force?: boolean): Promise<void>;
}

/** Start a worker on the queue the settings name; resolves once it takes jobs. */
export async function startWorker(options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const {
    connection: given,
    logger,
    metrics: givenMetrics,
    prices: givenPrices,
    subscribe,
    ...settings
  } = options;
  const config = resolveConfig(settings);
  const log = logger ?? new Logger(config.log.level);
  const metrics = givenMetrics ?? new Metrics({ labels: config.labels });
  const connection = given ?? (await connectOrFail(topologyOf(config), { hint: 'check redis.url' }));
  const keys = keyspaceOf(config);
  const anthropic = await anthropicClient(config, log);
  const limiter = new RateLimiter({
    redis: connection,
    // Limits belong to an API key (and endpoint): one shared state per account, never the key itself.
    account: accountFingerprint(`${anthropic.baseURL ?? 'default'}|${anthropic.apiKey}`),
    keys,
    config: config.limiter,
    ...limiterHooks(metrics, log),
  });
  const worker = new PromptWorker({
    connection,
    keys,
    config,
    client: anthropic.client,
    limiter,
    prices: givenPrices ?? PriceTable.load(config.pricingFile),
    log,
  });
  subscribeWorkerMetrics(worker, metrics);
  // Queue-wide per-minute figures for /dashboard and `promptq report`.
  const rollups = new RollupWriter({
    connection,
    keys,
    retention: config.rollups,
    tenantLabel: (t) => metrics.tenantLabel(t),
    modelLabel: (m) => metrics.modelLabel(m),
  });
  subscribeRollups(worker, rollups);
  subscribe?.(worker);
  await worker.start();
  return {
    worker,
    limiter,
    config,
    keys,
    metrics,
    simulator: anthropic.simulator,
    async close(force = false) {
      await worker.close(force);
      if (force) return;
      await limiter.close();
      await anthropic.simulator?.close();
      if (given === undefined) await connection.quit().catch(() => connection.disconnect());
    },
  };
}
