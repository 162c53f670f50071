/**
 * promptq's library API.
 *
 * ```ts
 * import { PromptQueue } from 'promptq';
 * ```
 */

export { ConfigError, loadConfig, type ModelsSetting, type PromptqConfig } from './core/config.js';
export { defaults } from './core/defaults.js';
export { type ExitCode, PromptqError, UsageError } from './core/errors.js';
export {
  type FieldProblem,
  type JobBody,
  type JobRequest,
  type Message,
  ValidationError,
  validateJob,
} from './core/job.js';
export type { JobLimits } from './core/job-schema.js';
export type { JobRecord } from './core/record.js';
export type { JobResult } from './core/result.js';
export { PromptqEvents, type PromptqEventsOptions } from './events/emitter.js';
export type { JobOutcome } from './events/outcome.js';
export type { EventListeners, EventName, FinishedEvent, ListenOptions } from './events/types.js';
export { type RunningService, runService, type ServiceParts } from './ops/service.js';
export { subscribeGenAiMetrics } from './ops/telemetry/genai-metrics.js';
export { JobConflictError } from './producer/conflicts.js';
export type { JobState, JobView } from './producer/job-view.js';
export { type AddResult, PromptQueue, type PromptQueueOptions } from './producer/queue.js';
export { TooManyWaitersError, type WaiterOptions } from './producer/waiters.js';
export { ModelPolicy, modelPolicyOf } from './providers/anthropic/model-policy.js';
export {
  type CallCost,
  type ModelPrice,
  PriceTable,
  priceCall,
  type Usage,
} from './providers/anthropic/pricing.js';
export { AnthropicProvider, type AnthropicProviderOptions } from './providers/anthropic/provider.js';
export type { Batches, Decision, Pricing, Provider, ProviderFactory } from './providers/provider.js';
export { createProvider, providerNames } from './providers/registry.js';
export {
  type ConnectionOptions,
  createConnection,
  keyspaceOf,
  type RedisConnection,
  type RedisMode,
  type RedisTopology,
} from './store/connection.js';
export {
  bullJobId,
  type KeyspaceOptions,
  limiterKey,
  publicJobId,
  QueueKeys,
  queueKeys,
} from './store/keys.js';
export { PromptWorker, type PromptWorkerOptions } from './worker/worker.js';
