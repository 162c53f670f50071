/**
 * Settings → one typed, validated, frozen configuration ({@link PromptqConfig}, settings.ts).
 *
 * - {@link resolveConfig} merges what a caller gives over {@link defaults} (defaults.ts, the one
 *   place of every default) and checks every value against its range, once: a configuration it
 *   returned goes through it again unchanged.
 * - {@link loadConfig} reads the environment (the variables of env.ts) into the same, and names the
 *   variable of a bad value; the CLI turns a {@link ConfigError} into exit code 2.
 *
 * Components take the slice they need (`config.worker`, `config.limiter`, `config.http`, …).
 */
import { deepFreeze, defaults } from './defaults.js';
import { type Env, environmentVariables, readEnvironment } from './env.js';
import { ConfigError } from './errors.js';
import { maxUserPriority } from './fairness.js';
import { parseRedisUrl, RedisUrlError, redisModes } from './redis-url.js';
import type { LogLevel, ModelsSetting, PromptqConfig, RedisConfig } from './settings.js';

export { ConfigError } from './errors.js';
export type {
  AdaptiveConcurrency,
  AnthropicConfig,
  BackfillConfig,
  BackoffPolicy,
  BudgetWaitPolicy,
  HttpConfig,
  JobLimits,
  JobsConfig,
  LabelsConfig,
  LimitCeilings,
  LimiterConfig,
  LimiterTuning,
  LogConfig,
  LogLevel,
  ModelsSetting,
  ObserversConfig,
  PromptqConfig,
  RedisConfig,
  RollupsConfig,
  WaitersConfig,
  WorkerConfig,
} from './settings.js';

/** Settings as a caller gives them: any part of the configuration; the rest are the defaults. */
export type PromptqOptions = DeepPartial<PromptqConfig>;

/** Every field optional, all the way down (a `models` setting is given whole). */
export type DeepPartial<T> = T extends ModelsSetting
  ? T
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> | undefined }
    : T;

/** Settings given whole, never merged field by field. */
const wholeSettings = new Set(['jobs.models']);
/** The configurations {@link resolveConfig} returned. */
const resolved = new WeakSet<object>();

/**
 * The configuration these settings make: each one given, the default for the rest (a `worker.concurrency`
 * given turns `worker.adaptiveConcurrency` off unless that is given too). Throws {@link ConfigError}
 * naming the first bad setting by its path (`worker.maxAttempts: must be between 1 and 100, got 0`).
 */
export function resolveConfig(options: PromptqOptions = {}): PromptqConfig {
  if (resolved.has(options)) return options as PromptqConfig;
  const config = merge(defaults, options, '') as { worker: { adaptiveConcurrency: unknown } } & PromptqConfig;
  if (options.worker?.concurrency !== undefined && options.worker.adaptiveConcurrency === undefined) {
    config.worker.adaptiveConcurrency = false;
  }
  checkTypes(defaults, config, '');
  for (const [path, rule] of rules) {
    const problem = rule(valueAt(config, path), config);
    if (problem !== undefined) throw new ConfigError(path, problem);
  }
  deepFreeze(config);
  resolved.add(config);
  return config;
}

/** Read and validate the environment. Throws {@link ConfigError} naming the bad variable. */
export function loadConfig(env: Env = process.env): PromptqConfig {
  const options: Record<string, unknown> = {};
  for (const [path, { value }] of readEnvironment(env)) setAt(options, path, value);
  try {
    return resolveConfig(options as PromptqOptions);
  } catch (err) {
    const variable = err instanceof ConfigError ? variableOf.get(err.variable) : undefined;
    if (variable === undefined) throw err;
    throw new ConfigError(variable, (err as ConfigError).reason);
  }
}

/** The environment variable of each setting one sets. */
const variableOf = new Map(environmentVariables.flatMap((v) => v.paths.map((p) => [p, v.name] as const)));

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype;

function merge(base: unknown, over: unknown, path: string): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over) || wholeSettings.has(path)) return over;
  for (const key of Object.keys(over)) {
    if (!Object.hasOwn(base, key)) throw new ConfigError(join(path, key), 'no such setting');
  }
  return Object.fromEntries(Object.keys(base).map((k) => [k, merge(base[k], over[k], join(path, k))]));
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);

/** Each value is of its default's type (a string where the default is `undefined`). */
function checkTypes(base: unknown, value: unknown, path: string): void {
  if (wholeSettings.has(path)) return;
  if (isPlainObject(base)) {
    if (path === 'worker.adaptiveConcurrency' && value === false) return;
    if (!isPlainObject(value)) throw new ConfigError(path, 'expected an object');
    for (const key of Object.keys(base)) checkTypes(base[key], value[key], join(path, key));
    return;
  }
  const expected = base === undefined ? 'string' : typeof base;
  if (base === undefined && value === undefined) return;
  if (typeof value !== expected || (expected === 'number' && !Number.isFinite(value))) {
    throw new ConfigError(path, `expected a ${expected}, got ${JSON.stringify(value)}`);
  }
  if (expected === 'number' && (value as number) < 0) {
    throw new ConfigError(path, `must not be negative, got ${value}`);
  }
}

function valueAt(config: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], config);
}

function setAt(into: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop() as string;
  let at = into;
  for (const key of keys) {
    at[key] ??= {};
    at = at[key] as Record<string, unknown>;
  }
  at[last] = value;
}

// ---------------------------------------------------------------------------------------------
// The ranges: one rule per setting that has more than "a number ≥ 0" (checkTypes), in the order
// they are checked.

type Rule = (value: unknown, config: PromptqConfig) => string | undefined;

function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): Rule {
  return (value) => {
    const n = value as number;
    if (!Number.isInteger(n)) return `expected a whole number, got ${n}`;
    if (n < min || n > max) return `must be between ${min} and ${max}, got ${n}`;
    return undefined;
  };
}

const token: Rule = (value) =>
  value !== undefined && (value as string).length < 16 ? 'must be at least 16 characters' : undefined;

const queueNamePattern = /^[A-Za-z0-9_.-]{1,100}$/;
const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

const rules: ReadonlyArray<readonly [string, Rule]> = [
  ['redis.mode', (mode) => modeProblem(mode as string)],
  ['redis.url', (_, config) => redisUrlProblem(config.redis)],
  ['redis.sentinelName', (_, config) => sentinelProblem(config.redis)],
  ['redis.enqueueTimeoutMs', wholeNumber(100, 600_000)],
  ['redis.requestDeadlineMs', wholeNumber(100, 600_000)],
  ['anthropic.baseUrl', (url) => baseUrlProblem(url as string | undefined)],
  [
    'queue',
    (q) => (queueNamePattern.test(q as string) ? undefined : 'use 1-100 characters from A-Z a-z 0-9 _ . -'),
  ],
  ['prefix', (p, config) => prefixProblem(p as string, config.redis.mode)],
  ['http.authToken', token],
  ['http.metricsToken', token],
  [
    'log.level',
    (l) => (logLevels.includes(l as LogLevel) ? undefined : `expected one of ${logLevels.join(', ')}`),
  ],
  ['http.port', wholeNumber(0, 65535)],
  ['http.headersTimeoutMs', wholeNumber(100, 300_000)],
  ['http.requestTimeoutMs', wholeNumber(100, 3_600_000)],
  ['http.maxConnectionsPerIp', wholeNumber(0, 1_000_000)],
  ['worker.concurrency', wholeNumber(1, 1000)],
  ['worker.maxAttempts', wholeNumber(1, 100)],
  ['worker.maxRateLimited', wholeNumber(0, 10_000)],
  ['worker.fallbackAfterOverloaded', wholeNumber(1, 100)],
  ['limiter.ceilings.rpm', wholeNumber(0)],
  ['limiter.ceilings.itpm', wholeNumber(0)],
  ['limiter.ceilings.otpm', wholeNumber(0)],
  [
    'limiter.tuning.target',
    (t) => ((t as number) > 0 && (t as number) <= 1 ? undefined : `expected a number in (0, 1], got ${t}`),
  ],
  ['worker.backoff.baseMs', wholeNumber(1, 3_600_000)],
  ['worker.backoff.maxMs', wholeNumber(1, 86_400_000)],
  ['limiter.tuning.overloadBaseMs', wholeNumber(1, 3_600_000)],
  ['limiter.tuning.cacheWriteWaitMs', wholeNumber(0, 600_000)],
  ['limiter.tuning.overloadMaxMs', wholeNumber(1, 86_400_000)],
  ['limiter.tuning.overloadProbeMaxMs', wholeNumber(1, 86_400_000)],
  ['worker.requestTimeoutMs', wholeNumber(100)],
  ['worker.shutdownTimeoutMs', wholeNumber(0)],
  ['worker.adaptiveConcurrency', (a) => adaptiveProblem(a as PromptqConfig['worker']['adaptiveConcurrency'])],
  ['labels.maxTenants', wholeNumber(0, 10_000)],
  ['labels.maxModels', wholeNumber(0, 10_000)],
  ['jobs.keepCompletedSeconds', wholeNumber(1)],
  ['jobs.keepFailedSeconds', wholeNumber(1)],
  ['jobs.limits.maxTokens', wholeNumber(1)],
  ['jobs.limits.maxMessages', wholeNumber(1)],
  ['jobs.limits.maxStringLength', wholeNumber(1)],
  ['jobs.defaultPriority', wholeNumber(1, maxUserPriority)],
  ['jobs.maxBatch', wholeNumber(1)],
  ['jobs.models', (m) => modelsProblem(m as ModelsSetting)],
  ['worker.lockDurationMs', wholeNumber(1000)],
  ['worker.stalledIntervalMs', wholeNumber(500)],
  ['waiters.maxWaiters', wholeNumber(1, 1_000_000)],
  ['waiters.maxPerTenant', wholeNumber(1, 1_000_000)],
  ['observers.queueCapacity', wholeNumber(1)],
  ['rollups.minuteRetentionSeconds', wholeNumber(3600)],
  ['rollups.dayRetentionSeconds', wholeNumber(86_400)],
  ['backfill.priority', wholeNumber(1, maxUserPriority)],
  ['backfill.batchSize', wholeNumber(1, 100_000)],
  ['webhooks.secret', (secret) => webhookSecretProblem(secret as string | undefined)],
  ['webhooks.secretsKey', (_, config) => secretsKeyProblem(config.webhooks)],
  ['webhooks.retryPeriodSeconds', wholeNumber(1, 30 * 86_400)],
  ['webhooks.backoffBaseMs', wholeNumber(1, 3_600_000)],
  ['webhooks.backoffMaxMs', wholeNumber(1, 86_400_000)],
  ['webhooks.concurrency', wholeNumber(1, 1000)],
  ['streams.maxLength', wholeNumber(10, 10_000_000)],
  ['streams.jobMaxLength', wholeNumber(10, 1_000_000)],
  ['streams.jobTtlSeconds', wholeNumber(1)],
  ['webhooks.deliveryTimeoutMs', wholeNumber(100, 600_000)],
  ['routing.batchTurnaroundSeconds', wholeNumber(1, 86_400)],
  ['routing.turnaroundSafety', (v) => ((v as number) >= 1 ? undefined : `must be at least 1, got ${v}`)],
  ['routing.liveLeadSeconds', wholeNumber(0)],
  ['routing.batchMaxRequests', wholeNumber(1, 100_000)],
  ['routing.batchMaxAgeSeconds', wholeNumber(0, 86_400)],
  ['routing.collectorIntervalMs', wholeNumber(10, 600_000)],
  ['routing.collectorLeaseMs', wholeNumber(100, 3_600_000)],
];

/** A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes. */
function webhookSecretProblem(secret: string | undefined): string | undefined {
  if (secret === undefined) return undefined;
  const body = secret.startsWith('whsec_') ? secret.slice(6) : '';
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(body) ? Buffer.from(body, 'base64').length : 0;
  return bytes >= 24 && bytes <= 64 ? undefined : 'expected whsec_ and the base64 of 24 to 64 random bytes';
}

/** The master secret of secrets at rest: long enough, and not the signing secret the receivers hold. */
function secretsKeyProblem({ secret, secretsKey }: PromptqConfig['webhooks']): string | undefined {
  if (secretsKey === undefined) return undefined;
  if (secretsKey.length < 32) return 'must be at least 32 characters (openssl rand -base64 32)';
  return secretsKey === secret ? 'must not be PROMPTQ_WEBHOOK_SECRET (its receivers hold that)' : undefined;
}

function prefixProblem(prefix: string, mode: string): string | undefined {
  if (prefix === '') return 'must not be empty';
  // On a cluster the keyspace tags the prefix with the queue (store/keys.ts): one tag only.
  if (mode === 'cluster' && /[{}]/.test(prefix))
    return `"${prefix}" has a hash tag; on a cluster promptq adds the queue's`;
  return undefined;
}

function modeProblem(mode: string): string | undefined {
  return (redisModes as readonly string[]).includes(mode)
    ? undefined
    : `expected one of ${redisModes.join(', ')}, got "${mode}"`;
}

/** The URL, read as the mode reads it. */
function redisUrlProblem({ url, mode }: RedisConfig): string | undefined {
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
    if (mode !== 'single' || !/^rediss?:\/\/[^,]+$/.test(url) || !URL.canParse(url)) return err.message;
    return undefined;
  }
  if (mode === 'single' && hosts > 1) {
    return `names ${hosts} hosts; set PROMPTQ_REDIS_MODE=cluster (seed nodes) or sentinel (the sentinels)`;
  }
  if (mode === 'cluster' && db !== 0) return `Redis Cluster has database 0 only, got /${db}`;
  return undefined;
}

function sentinelProblem({ mode, sentinelName }: RedisConfig): string | undefined {
  if (mode === 'sentinel' && sentinelName === undefined) {
    return 'required with PROMPTQ_REDIS_MODE=sentinel (the master name)';
  }
  if (mode !== 'sentinel' && sentinelName !== undefined)
    return `set, but PROMPTQ_REDIS_MODE is ${mode}, not sentinel`;
  return undefined;
}

function baseUrlProblem(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  if (!/^https?:\/\/[^/]/.test(url)) return 'expected an http(s):// URL';
  // The SDK sends the API key in the Authorization header, so a user and password in the URL have
  // nowhere to go; and a URL with them is refused by fetch, which quotes it in every error (job
  // failure reasons, error bodies, Bull Board).
  if (urlCredentials(url).length > 0) {
    return `a user or password in the URL is not supported (${redactUrl(url, 'ANTHROPIC_BASE_URL')}); give the endpoint without them`;
  }
  return undefined;
}

function adaptiveProblem(a: PromptqConfig['worker']['adaptiveConcurrency']): string | undefined {
  if (a === false || (Number.isInteger(a.min) && a.min >= 1 && a.max >= a.min)) return undefined;
  return `expected false or 1 ≤ min ≤ max, got ${JSON.stringify(a)}`;
}

function modelsProblem(m: ModelsSetting): string | undefined {
  if (m?.kind === 'any') return undefined;
  if (m?.kind === 'listed' && typeof m.known === 'boolean' && Array.isArray(m.names)) return undefined;
  return `expected { kind: 'any' } or { kind: 'listed', known, names }, got ${JSON.stringify(m)}`;
}

// ---------------------------------------------------------------------------------------------

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * For commands that listen: without a token, promptq binds to loopback only. Throws naming HOST.
 */
export function checkListenAddress(http: Pick<PromptqConfig['http'], 'host' | 'authToken'>): void {
  if (!isLoopback(http.host) && http.authToken === undefined) {
    throw new ConfigError(
      'HOST',
      `"${http.host}" is not a loopback address; set PROMPTQ_AUTH_TOKEN to expose promptq beyond this machine`,
    );
  }
}

/** The Redis topology a config names (for store/connection.ts's `createConnection`). */
export function topologyOf(config: Pick<PromptqConfig, 'redis'>): {
  mode: PromptqConfig['redis']['mode'];
  url: string;
  sentinelName: string | undefined;
} {
  return { mode: config.redis.mode, url: config.redis.url, sentinelName: config.redis.sentinelName };
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
