/**
 * The library's public names, locked: removing or renaming one breaks its users, so it changes
 * here and in the CHANGELOG together, never by accident.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as promptq from '../../src/index.js';

/** The names src/index.ts exports as types only (`type X` in a list, or `export type { … }`). */
function typeExports(): string[] {
  const source = readFileSync(new URL('../../src/index.ts', import.meta.url), 'utf8');
  const names: string[] = [];
  for (const m of source.matchAll(/export (type )?\{([^}]*)\}/g)) {
    for (const item of m[2]!.split(',').map((s) => s.trim())) {
      if (item === '') continue;
      if (m[1] !== undefined) names.push(item);
      else if (item.startsWith('type ')) names.push(item.slice('type '.length));
    }
  }
  return names.sort();
}

describe("promptq's exports", () => {
  it('the values', () => {
    expect(Object.keys(promptq).sort()).toEqual([
      'AnthropicProvider',
      'ConfigError',
      'JobConflictError',
      'Keyspace',
      'Logger',
      'Metrics',
      'ModelPolicy',
      'PriceTable',
      'PromptQueue',
      'PromptWorker',
      'PromptqError',
      'PromptqEvents',
      'RateLimiter',
      'RedisUnavailableError',
      'TooManyWaitersError',
      'UsageError',
      'ValidationError',
      'accountFingerprint',
      'bullJobId',
      'createApp',
      'createConnection',
      'createOpsApp',
      'createProvider',
      'defaults',
      'environmentVariables',
      'keyspaceOf',
      'loadConfig',
      'modelPolicyOf',
      'priceCall',
      'providerNames',
      'publicJobId',
      'resolveConfig',
      'runService',
      'startWorker',
      'subscribeGenAiMetrics',
      'validateJob',
    ]);
  });

  it('the types', () => {
    expect(typeExports()).toEqual([
      'AdaptiveConcurrency',
      'AddResult',
      'AnthropicConfig',
      'AnthropicProviderOptions',
      'AppOptions',
      'BackfillConfig',
      'BackoffPolicy',
      'Batches',
      'BudgetWaitPolicy',
      'CallCost',
      'ConnectionOptions',
      'Decision',
      'DeepPartial',
      'EnvVariable',
      'EventListeners',
      'EventName',
      'ExitCode',
      'FieldProblem',
      'FinishedEvent',
      'HttpConfig',
      'JobBody',
      'JobLimits',
      'JobOutcome',
      'JobRecord',
      'JobRequest',
      'JobResult',
      'JobState',
      'JobView',
      'JobsConfig',
      'KeyspaceOptions',
      'LabelsConfig',
      'LimitCeilings',
      'LimiterConfig',
      'LimiterOptions',
      'LimiterTuning',
      'ListenOptions',
      'LogConfig',
      'LogLevel',
      'LogSink',
      'Message',
      'MetricsOptions',
      'ModelPrice',
      'ModelsSetting',
      'ObserversConfig',
      'OpsOptions',
      'Pricing',
      'PromptQueueOptions',
      'PromptWorkerOptions',
      'PromptqConfig',
      'PromptqEventsOptions',
      'PromptqOptions',
      'Provider',
      'ProviderFactory',
      'RedisConfig',
      'RedisConnection',
      'RedisMode',
      'RedisTopology',
      'RollupsConfig',
      'RunningService',
      'RunningWorker',
      'ServiceParts',
      'StartWorkerOptions',
      'Usage',
      'WaitersConfig',
      'WorkerConfig',
      'WorkerSettings',
    ]);
  });
});
