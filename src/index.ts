/**
 * promptq's library API (docs/library.md): enqueue and wait, run a worker in your own process,
 * embed the HTTP API in your own server. Every option is typed; settings not given take their
 * defaults (`defaults`, documented in settings.ts and docs/reference/environment.md).
 *
 * ```ts
 * import { PromptQueue, startWorker } from 'promptq';
 * ```
 *
 * The names exported here are locked by test/library/exports.test.ts.
 */

// Configuration: one typed object, every default in one place.
export {
  type AdaptiveConcurrency,
  type AnthropicConfig,
  type BackfillConfig,
  type BackoffPolicy,
  type BudgetWaitPolicy,
  ConfigError,
  type DeepPartial,
  type HttpConfig,
  type JobLimits,
  type JobsConfig,
  type LabelsConfig,
  type LimitCeilings,
  type LimiterConfig,
  type LimiterTuning,
  type LogConfig,
  type LogLevel,
  loadConfig,
  type ModelsSetting,
  type ObserversConfig,
  type PromptqConfig,
  type PromptqOptions,
  type RedisConfig,
  type RollupsConfig,
  resolveConfig,
  type WaitersConfig,
  type WorkerConfig,
} from './core/config.js';
export { defaults } from './core/defaults.js';
export { type EnvVariable, environmentVariables } from './core/env.js';
export { type ExitCode, PromptqError, UsageError } from './core/errors.js';
export {
  type FieldProblem,
  type JobBody,
  type JobRequest,
  type Message,
  ValidationError,
  validateJob,
} from './core/job.js';
export { Logger, type LogSink } from './core/log.js';
export type { JobRecord } from './core/record.js';
export type { JobResult } from './core/result.js';
// The one event source of a process: the queue, the limiter and the worker emit into it.
export { PromptqEvents, type PromptqEventsOptions } from './events/emitter.js';
export type { JobOutcome } from './events/outcome.js';
export type { EventListeners, EventName, FinishedEvent, ListenOptions } from './events/types.js';
// The limiter a worker uses (startWorker builds it; a hand-built PromptWorker needs one).
export { RateLimiter } from './limiter/limiter.js';
export type { LimiterOptions } from './limiter/types.js';
// The HTTP API, to embed in an express server (or serve as it is).
export { type AppOptions, createApp, createOpsApp, type OpsOptions } from './ops/http/app.js';
export { Metrics, type MetricsOptions } from './ops/metrics/metrics.js';
export { type RunningService, runService, type ServiceParts } from './ops/service.js';
export { type RunningWorker, type StartWorkerOptions, startWorker } from './ops/start-worker.js';
export { subscribeGenAiMetrics } from './ops/telemetry/genai-metrics.js';
// Enqueue and wait.
export { JobConflictError } from './producer/conflicts.js';
export type { JobState, JobView } from './producer/job-view.js';
export { type AddResult, PromptQueue, type PromptQueueOptions } from './producer/queue.js';
export { TooManyWaitersError } from './producer/waiters.js';
export { accountFingerprint } from './providers/account.js';
export { ModelPolicy, modelPolicyOf } from './providers/anthropic/model-policy.js';
export {
  type CallCost,
  type ModelPrice,
  PriceTable,
  priceCall,
  type Usage,
} from './providers/anthropic/pricing.js';
// The provider seam: who serves the calls.
export { AnthropicProvider, type AnthropicProviderOptions } from './providers/anthropic/provider.js';
export type { Batches, Decision, Pricing, Provider, ProviderFactory } from './providers/provider.js';
export { createProvider, providerNames } from './providers/registry.js';
// Redis: one connection factory, one keyspace.
export {
  type ConnectionOptions,
  createConnection,
  type RedisConnection,
  type RedisMode,
  type RedisTopology,
} from './store/connection.js';
export { bullJobId, Keyspace, type KeyspaceOptions, keyspaceOf, publicJobId } from './store/keys.js';
// Redis away (a failover past redis.enqueueTimeoutMs) or refusing (OOM, READONLY…): try again.
export { RedisUnavailableError } from './store/redis-deadline.js';
// The worker.
export { PromptWorker, type PromptWorkerOptions, type WorkerSettings } from './worker/worker.js';
