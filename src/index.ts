/**
 * promptq's library API.
 *
 * ```ts
 * import { PromptQueue } from 'promptq';
 * ```
 */
export { ConfigError, defaults, loadConfig, type PromptqConfig } from './config.js';
export {
  type FieldProblem,
  type JobBody,
  type JobLimits,
  type JobRecord,
  type JobRequest,
  type Message,
  ValidationError,
  validateJob,
} from './job.js';
export { type ModelPrice, PriceTable } from './pricing.js';
export {
  type AddResult,
  type JobState,
  type JobView,
  PromptQueue,
  type PromptQueueOptions,
} from './queue.js';
export { type RunningService, runService, type ServiceParts } from './service.js';
export { type JobResult, PromptWorker, type PromptWorkerOptions } from './worker/worker.js';
