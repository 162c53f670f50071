/**
 * An Anthropic Messages API simulator for promptq's tests, benchmarks and keyless `promptq start`:
 * the real `@anthropic-ai/sdk` works against it unchanged (pass `url` as `baseURL`), and its rate
 * limiting, headers, errors and streaming follow the real API closely enough to tune a limiter.
 */
export { BATCHES_DEFAULTS, type BatchesOptions } from './batches-options.js';
export { DEFAULT_CLI_PORT, parseSimulateArgs, runSimulateCommand, type SimulateCommandIo } from './cli.js';
export { RETIRED_MODELS, SERVED_MODELS } from './models.js';
export {
  DEFAULTS as SIMULATOR_DEFAULTS,
  type FaultRates,
  type OutputDistribution,
  type SimulatorOptions,
} from './options.js';
export { REDACTED_THINKING_TRIGGER } from './redacted-thinking.js';
export { SimulatorOptionError } from './resolve-options.js';
export { type Simulator, startSimulator } from './server.js';
export { estimateSimTokens, type SimTokenInput } from './tokenizer.js';
export type {
  Arrival,
  GroupStats,
  LimitSet,
  Limits,
  RateLimitedCounts,
  ScriptedFault,
  ScriptedStatusFault,
  ServedResponse,
  SimulatorCounters,
  SimulatorStats,
} from './types.js';
