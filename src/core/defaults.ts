/**
 * Every default of promptq, in one place and in the shape of the configuration (settings.ts says
 * what each one means, its range and its environment variable). `resolveConfig` (config.ts) merges
 * a caller's settings over these; nothing else in src/ states a default of a setting
 * (test/core/config-defaults.test.ts checks both).
 */
import type { PromptqConfig } from './settings.js';

/** The job backoff and the limiter's overload pause are one policy: `PROMPTQ_RETRY_*_MS` set both. */
const retryBaseMs = 1000;
const retryMaxMs = 60_000;

export const defaults: PromptqConfig = deepFreeze<PromptqConfig>({
  queue: 'prompts',
  prefix: 'bull',
  pricingFile: undefined,
  accountsFile: undefined,
  redis: {
    url: 'redis://127.0.0.1:6379',
    mode: 'single',
    sentinelName: undefined,
    enqueueTimeoutMs: 10_000,
    requestDeadlineMs: 2000,
  },
  anthropic: {
    apiKey: undefined,
    baseUrl: undefined,
  },
  http: {
    host: '127.0.0.1',
    port: 3000,
    authToken: undefined,
    metricsToken: undefined,
    boardReadOnly: false,
    bodyLimit: '4mb',
    maxWaitSeconds: 300,
    readyTimeoutMs: 1000,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    maxConnectionsPerIp: 256,
  },
  waiters: {
    maxWaiters: 1000,
    maxPerTenant: 100,
    events: true,
    recheckMs: 30_000,
    lingerMs: 30_000,
  },
  jobs: {
    limits: {
      maxTokens: 128_000,
      maxMessages: 1000,
      maxStringLength: 2_000_000,
    },
    keepCompletedSeconds: 7 * 24 * 3600,
    keepFailedSeconds: 30 * 24 * 3600,
    models: { kind: 'any' },
    defaultPriority: 100,
    maxBatch: 1000,
    claimTtlMs: 30_000,
    infraAttempts: 3,
    infraBackoffMs: 1000,
  },
  worker: {
    concurrency: 16,
    adaptiveConcurrency: { min: 8, max: 256, intervalMs: 2000 },
    maxAttempts: 8,
    maxRateLimited: 50,
    fallbackAfterOverloaded: 2,
    backoff: { baseMs: retryBaseMs, maxMs: retryMaxMs, retryAfterJitterMs: 250 },
    requestTimeoutMs: 600_000,
    shutdownTimeoutMs: 30_000,
    shutdownGraceMs: 5000,
    lockDurationMs: 60_000,
    writeRetryMs: 300_000,
    stalledIntervalMs: 30_000,
    maxStalledCount: 2,
    logPrompts: false,
    budgetWait: { heldMs: 2000, spentMs: 60_000 },
    budgetHoldGraceMs: 10 * 60_000,
    tenantUnknownCacheMs: 2000,
    spendLimitDelayMs: 1000,
  },
  limiter: {
    ceilings: { rpm: 0, itpm: 0, otpm: 0 },
    tuning: {
      target: 0.995,
      burstMs: 1000,
      reserveMs: 200,
      discoveryTtlMs: 10_000,
      minFactor: 0.3,
      overloadBaseMs: retryBaseMs,
      overloadMaxMs: retryMaxMs,
      overloadProbeMaxMs: 4000,
      recoveryStep: 0.01,
      burstRecoveryMs: 20,
      decreaseFactor: 0.8,
      burstDecrease: 0.6,
      minBurstMs: 100,
      pauseWithoutRetryAfterMs: 1000,
      inRatioWeight: 0.2,
      learnStartRpm: 60,
      learnSlowStartStep: 60,
      learnStep: 0.3,
      learnDecrease: 0.95,
      learnWindowMs: 5000,
      cautionMs: 30_000,
      cautiousRecoveryStep: 0.0005,
      trustStep: 0.05,
      trustMax: 3,
      holdMs: 1000,
      maxDeferMs: 60_000,
      cacheTtlMs: 300_000,
      cacheWriteWaitMs: 10_000,
      cachePrefixesKept: 10_000,
      stateReadMs: 100,
      headersEarlyMs: 1000,
    },
    idleGroupMs: 10 * 60_000,
  },
  log: {
    level: 'info',
    repeatIntervalMs: 10_000,
  },
  observers: {
    queueCapacity: 1000,
  },
  labels: {
    maxTenants: 50,
    maxModels: 50,
  },
  rollups: {
    minuteRetentionSeconds: 26 * 3600,
    dayRetentionSeconds: 40 * 86_400,
  },
  backfill: {
    priority: 500,
    batchesAutoMinJobs: 1000,
    batchSize: 10_000,
  },
  webhooks: {
    secret: undefined,
    secretsKey: undefined,
    allowPrivate: false,
    allowHosts: undefined,
    retryPeriodSeconds: 86_400,
    backoffBaseMs: 5000,
    backoffMaxMs: 3_600_000,
    concurrency: 8,
    deliveryTimeoutMs: 10_000,
    settleMs: 10_000,
  },
  streams: {
    maxLength: 10_000,
    jobMaxLength: 5000,
    jobTtlSeconds: 3600,
  },
  routing: {
    batchTurnaroundSeconds: 86_400,
    turnaroundSafety: 1.5,
    liveLeadSeconds: 600,
    batchMaxRequests: 10_000,
    batchMaxAgeSeconds: 60,
    collector: true,
    collectorIntervalMs: 1000,
    collectorLeaseMs: 30_000,
  },
});

/** Freeze an object and everything in it: a resolved configuration is read, never written. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
