/**
 * Environment → one typed, validated configuration object.
 *
 * Every default lives in {@link defaults} (defaults.ts); {@link loadConfig} reads the environment once, checks each
 * value and throws a {@link ConfigError} naming the variable (the CLI turns that into exit code 2).
 */

import { defaults } from './defaults.js';
import { PromptqError } from './errors.js';
import type { JobLimits } from './job-schema.js';
import { parseRedisUrl, type RedisMode, RedisUrlError, redisModes } from './redis-url.js';

/** The resolved configuration of a promptq process. */
export interface PromptqConfig {
  /** Redis holding queues, records and shared limiter state. @defaultValue `redis://127.0.0.1:6379` */
  readonly redisUrl: string;
  /** Whether REDIS_URL was set explicitly (if not, `start` may launch a private redis-server). */
  readonly redisUrlExplicit: boolean;
  /**
   * How `redisUrl` is read: one endpoint, Redis Cluster seed nodes, or sentinels.
   * @defaultValue `single`
   */
  readonly redisMode: RedisMode;
  /** The master's name when `redisMode` is `sentinel`. */
  readonly redisSentinelName: string | undefined;
  /** The real API key; `undefined` → the built-in simulator is used. Never logged. */
  readonly anthropicApiKey: string | undefined;
  /** Another Anthropic-compatible endpoint. @defaultValue the SDK's default */
  readonly anthropicBaseUrl: string | undefined;
  /** Queue name. @defaultValue `prompts` */
  readonly queue: string;
  /** HTTP listen host. @defaultValue `127.0.0.1` */
  readonly host: string;
  /** HTTP listen port (0 = ephemeral). @defaultValue `3000` */
  readonly port: number;
  /** Bearer token for the API and Bull Board; required when `host` is not loopback. */
  readonly authToken: string | undefined;
  /**
   * Upper bound on in-flight API calls per worker. Unset: chosen by the limiter (starts here, then
   * rate × latency). @defaultValue `16`
   */
  readonly concurrency: number;
  /** Whether PROMPTQ_CONCURRENCY was set explicitly. */
  readonly concurrencyExplicit: boolean;
  /** API attempts per job before it fails (429s that wait for capacity included). @defaultValue `8` */
  readonly maxAttempts: number;
  /** 429s a job may meet before it fails (they do not spend attempts). @defaultValue `50` */
  readonly maxRateLimited: number;
  /** Overloaded (529) answers in a row before a job with `fallback_models` moves on. @defaultValue `2` */
  readonly fallbackAfterOverloaded: number;
  /** Optional ceilings below the account's limits (per model group, per minute); 0 = none. */
  readonly maxRpm: number;
  readonly maxItpm: number;
  readonly maxOtpm: number;
  /** Share of the announced limits the limiter aims for. @defaultValue `0.995` */
  readonly targetUtilization: number;
  /** First retry's backoff (overloads wait twice this, 5xx and network errors half). @defaultValue `1000` */
  readonly retryBaseMs: number;
  /** Longest backoff between attempts (a `retry-after` from the API is honoured even if longer). @defaultValue `60000` */
  readonly retryMaxMs: number;
  /** Per-attempt request timeout in ms (a hanging call is aborted and retried). @defaultValue `600000` */
  readonly requestTimeoutMs: number;
  /** How long a graceful shutdown waits for in-flight jobs before returning them to the queue. @defaultValue `30000` */
  readonly shutdownTimeoutMs: number;
  /** Log prompt and completion text in the per-attempt log line. @defaultValue `false` */
  readonly logPrompts: boolean;
  /** Log level. @defaultValue `info` */
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** JSON file of model prices (USD per million tokens) that overrides/extends the built-in table. */
  readonly pricingFile: string | undefined;
  /** How many distinct tenants keep their name in metric labels; the rest are `other`. @defaultValue `50` */
  readonly maxTenantLabels: number;
  /** Models that keep their name in metric labels and dashboard rollups; the rest are `other`. */
  readonly maxModelLabels: number;
  /** Keep completed jobs (and their records) this many seconds. @defaultValue `604800` (7 days) */
  readonly keepCompletedSeconds: number;
  /** Keep failed jobs this many seconds. @defaultValue `2592000` (30 days) */
  readonly keepFailedSeconds: number;
  /** Largest `max_tokens` a job may ask for. @defaultValue `128000` */
  readonly maxTokensCap: number;
  /** A job's lock lifetime; renewed every half of it while the worker lives. @defaultValue `60000` */
  readonly lockDurationMs: number;
  /** How often workers look for jobs whose lock expired (a dead worker's). @defaultValue `30000` */
  readonly stalledIntervalMs: number;
  /** A separate bearer token for `/metrics` (Prometheus need not hold the API token). */
  readonly metricsToken: string | undefined;
  /** Bull Board without retry/remove/clean buttons. @defaultValue `false` */
  readonly boardReadOnly: boolean;
  /** Most concurrent `?wait=` long polls per process; past it `429`. @defaultValue `1000` */
  readonly maxWaiters: number;
  /** Which models jobs may name, checked at enqueue (`PROMPTQ_MODELS`). @defaultValue `any` */
  readonly models: ModelsSetting;
}

/**
 * `PROMPTQ_MODELS`: `any` (every model), or the models of the price list (`known`) and/or the
 * listed names (anthropic/model-policy.ts).
 */
export type ModelsSetting =
  | { readonly kind: 'any' }
  | { readonly kind: 'listed'; readonly known: boolean; readonly names: readonly string[] };

/** Read `PROMPTQ_MODELS` (`any`, `known`, or a comma-separated list that may include `known`). */
function modelsSetting(env: Env): ModelsSetting {
  const raw = str(env, 'PROMPTQ_MODELS');
  if (raw === undefined) return defaults.models;
  const items = raw
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (items.length === 1 && items[0] === 'any') return { kind: 'any' };
  const bad = items.find((m) => m === 'any' || !/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,255}$/.test(m));
  if (bad !== undefined || items.length === 0) {
    throw new ConfigError(
      'PROMPTQ_MODELS',
      bad === 'any'
        ? '"any" goes alone'
        : `expected any, known, or a comma-separated list of model names (may include known), got "${bad ?? raw}"`,
    );
  }
  return { kind: 'listed', known: items.includes('known'), names: items.filter((m) => m !== 'known') };
}

/** Raised for an invalid environment value; `variable` names it. */
export class ConfigError extends PromptqError {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`, { code: 'config', exitCode: 2 });
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function fraction(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || !(n > 0 && n <= 1)) {
    throw new ConfigError(name, `expected a number in (0, 1], got "${raw}"`);
  }
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const queueNamePattern = /^[A-Za-z0-9_.-]{1,100}$/;
const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/**
 * For commands that listen: without a token, promptq binds to loopback only. Throws naming HOST.
 */
export function checkListenAddress(config: Pick<PromptqConfig, 'host' | 'authToken'>): void {
  if (!isLoopback(config.host) && config.authToken === undefined) {
    throw new ConfigError(
      'HOST',
      `"${config.host}" is not a loopback address; set PROMPTQ_AUTH_TOKEN to expose promptq beyond this machine`,
    );
  }
}

/** `PROMPTQ_REDIS_MODE`, `REDIS_URL` and `PROMPTQ_REDIS_SENTINEL_NAME`, checked together. */
function redisTopology(
  env: Env,
  url: string,
): { redisMode: RedisMode; redisSentinelName: string | undefined } {
  const mode = (str(env, 'PROMPTQ_REDIS_MODE') ?? defaults.redisMode).toLowerCase();
  if (!(redisModes as readonly string[]).includes(mode)) {
    throw new ConfigError('PROMPTQ_REDIS_MODE', `expected one of ${redisModes.join(', ')}, got "${mode}"`);
  }
  let hosts: number;
  let db: number;
  try {
    ({
      hosts: { length: hosts },
      db,
    } = parseRedisUrl(url));
  } catch (err) {
    if (!(err instanceof RedisUrlError)) throw err;
    // One endpoint goes to ioredis as it is: any URL it reads is fine there.
    if (mode !== 'single' || !/^rediss?:\/\/[^,]+$/.test(url) || !URL.canParse(url)) {
      throw new ConfigError('REDIS_URL', err.message);
    }
    hosts = 1;
    db = 0;
  }
  if (mode === 'single' && hosts > 1) {
    throw new ConfigError(
      'REDIS_URL',
      `names ${hosts} hosts; set PROMPTQ_REDIS_MODE=cluster (seed nodes) or sentinel (the sentinels)`,
    );
  }
  if (mode === 'cluster' && db !== 0) {
    throw new ConfigError('REDIS_URL', `Redis Cluster has database 0 only, got /${db}`);
  }
  const name = str(env, 'PROMPTQ_REDIS_SENTINEL_NAME');
  if (mode === 'sentinel' && name === undefined) {
    throw new ConfigError(
      'PROMPTQ_REDIS_SENTINEL_NAME',
      'required with PROMPTQ_REDIS_MODE=sentinel (the master name)',
    );
  }
  if (mode !== 'sentinel' && name !== undefined) {
    throw new ConfigError(
      'PROMPTQ_REDIS_SENTINEL_NAME',
      `set, but PROMPTQ_REDIS_MODE is ${mode}, not sentinel`,
    );
  }
  return { redisMode: mode as RedisMode, redisSentinelName: name };
}

/** The Redis topology a config names (for store/connection.ts's `createConnection`). */
export function topologyOf(config: Pick<PromptqConfig, 'redisUrl' | 'redisMode' | 'redisSentinelName'>): {
  mode: RedisMode;
  url: string;
  sentinelName: string | undefined;
} {
  return { mode: config.redisMode, url: config.redisUrl, sentinelName: config.redisSentinelName };
}

/** Read and validate the environment. Throws {@link ConfigError} naming the bad variable. */
export function loadConfig(env: Env = process.env): PromptqConfig {
  const redisUrl = str(env, 'REDIS_URL') ?? defaults.redisUrl;
  const { redisMode, redisSentinelName } = redisTopology(env, redisUrl);
  const baseUrl = str(env, 'ANTHROPIC_BASE_URL');
  if (baseUrl !== undefined && !/^https?:\/\/[^/]/.test(baseUrl)) {
    throw new ConfigError('ANTHROPIC_BASE_URL', 'expected an http(s):// URL');
  }
  // The SDK sends the API key in the Authorization header, so a user and password in the URL have
  // nowhere to go; and a URL with them is refused by fetch, which quotes it in every error (job
  // failure reasons, error bodies, Bull Board).
  if (baseUrl !== undefined && urlCredentials(baseUrl).length > 0) {
    throw new ConfigError(
      'ANTHROPIC_BASE_URL',
      `a user or password in the URL is not supported (${redactUrl(baseUrl, 'ANTHROPIC_BASE_URL')}); give the endpoint without them`,
    );
  }
  const queue = str(env, 'PROMPTQ_QUEUE') ?? defaults.queue;
  if (!queueNamePattern.test(queue)) {
    throw new ConfigError('PROMPTQ_QUEUE', 'use 1-100 characters from A-Z a-z 0-9 _ . -');
  }
  const host = str(env, 'HOST') ?? defaults.host;
  const authToken = str(env, 'PROMPTQ_AUTH_TOKEN');
  if (authToken !== undefined && authToken.length < 16) {
    throw new ConfigError('PROMPTQ_AUTH_TOKEN', 'must be at least 16 characters');
  }
  const metricsToken = str(env, 'PROMPTQ_METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    throw new ConfigError('PROMPTQ_METRICS_TOKEN', 'must be at least 16 characters');
  }
  const level = (str(env, 'PROMPTQ_LOG_LEVEL') ?? defaults.logLevel).toLowerCase();
  if (!(logLevels as readonly string[]).includes(level)) {
    throw new ConfigError('PROMPTQ_LOG_LEVEL', `expected one of ${logLevels.join(', ')}`);
  }
  return {
    redisUrl,
    redisUrlExplicit: str(env, 'REDIS_URL') !== undefined,
    redisMode,
    redisSentinelName,
    anthropicApiKey: str(env, 'ANTHROPIC_API_KEY'),
    anthropicBaseUrl: baseUrl,
    queue,
    host,
    port: int(env, 'PORT', defaults.port, 0, 65535),
    authToken,
    concurrency: int(env, 'PROMPTQ_CONCURRENCY', defaults.concurrency, 1, 1000),
    concurrencyExplicit: str(env, 'PROMPTQ_CONCURRENCY') !== undefined,
    maxAttempts: int(env, 'PROMPTQ_MAX_ATTEMPTS', defaults.maxAttempts, 1, 100),
    maxRateLimited: int(env, 'PROMPTQ_MAX_RATE_LIMITED', defaults.maxRateLimited, 0, 10_000),
    // biome-ignore format: one line, so docs tests can find the variable.
    fallbackAfterOverloaded: int(env, 'PROMPTQ_FALLBACK_AFTER_OVERLOADED', defaults.fallbackAfterOverloaded, 1, 100),
    maxRpm: int(env, 'PROMPTQ_MAX_RPM', 0, 0),
    maxItpm: int(env, 'PROMPTQ_MAX_ITPM', 0, 0),
    maxOtpm: int(env, 'PROMPTQ_MAX_OTPM', 0, 0),
    targetUtilization: fraction(env, 'PROMPTQ_TARGET_UTILIZATION', defaults.targetUtilization),
    retryBaseMs: int(env, 'PROMPTQ_RETRY_BASE_MS', defaults.retryBaseMs, 1, 3_600_000),
    retryMaxMs: int(env, 'PROMPTQ_RETRY_MAX_MS', defaults.retryMaxMs, 1, 86_400_000),
    requestTimeoutMs: int(env, 'PROMPTQ_REQUEST_TIMEOUT_MS', defaults.requestTimeoutMs, 100),
    shutdownTimeoutMs: int(env, 'PROMPTQ_SHUTDOWN_TIMEOUT_MS', defaults.shutdownTimeoutMs, 0),
    logPrompts: bool(env, 'PROMPTQ_LOG_PROMPTS', defaults.logPrompts),
    logLevel: level as PromptqConfig['logLevel'],
    pricingFile: str(env, 'PROMPTQ_PRICING_FILE'),
    maxTenantLabels: int(env, 'PROMPTQ_MAX_TENANT_LABELS', defaults.maxTenantLabels, 0, 10_000),
    maxModelLabels: int(env, 'PROMPTQ_MAX_MODEL_LABELS', defaults.maxModelLabels, 0, 10_000),
    keepCompletedSeconds: int(env, 'PROMPTQ_KEEP_COMPLETED_SECONDS', defaults.keepCompletedSeconds, 1),
    keepFailedSeconds: int(env, 'PROMPTQ_KEEP_FAILED_SECONDS', defaults.keepFailedSeconds, 1),
    maxTokensCap: int(env, 'PROMPTQ_MAX_TOKENS_CAP', defaults.maxTokensCap, 1),
    lockDurationMs: int(env, 'PROMPTQ_LOCK_DURATION_MS', defaults.lockDurationMs, 1000),
    stalledIntervalMs: int(env, 'PROMPTQ_STALLED_INTERVAL_MS', defaults.stalledIntervalMs, 500),
    metricsToken,
    boardReadOnly: bool(env, 'PROMPTQ_BOARD_READ_ONLY', defaults.boardReadOnly),
    maxWaiters: int(env, 'PROMPTQ_MAX_WAITERS', defaults.maxWaiters, 1, 1_000_000),
    models: modelsSetting(env),
  };
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string, name = 'REDIS_URL'): string {
  try {
    const u = new URL(url);
    // A user name can be a token too (`https://TOKEN@proxy`).
    if (u.username) u.username = '***';
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return `the configured ${name}`;
  }
}

/** The credentials inside a URL (user name and password, decoded), to redact from logs. */
export function urlCredentials(url: string | undefined): string[] {
  if (url === undefined) return [];
  try {
    const u = new URL(url);
    return [u.username, u.password].filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    return [];
  }
}

/** The job limits a config sets (`PROMPTQ_MAX_TOKENS_CAP`). */
export function jobLimitsFrom(config: PromptqConfig): JobLimits {
  return {
    maxTokens: config.maxTokensCap,
    maxMessages: defaults.maxMessages,
    maxStringLength: defaults.maxStringLength,
  };
}
