/**
 * The environment variables promptq reads, each with the setting(s) it sets (settings.ts): the
 * table `loadConfig` (config.ts) reads the environment through, and docs/reference/environment.md
 * is checked against (test/docs/reference.test.ts). A variable's text becomes a typed value here
 * (a whole number, a fraction, a boolean, …); its range is checked by `resolveConfig` with every
 * other setting's, and reported under the variable's name.
 */
import { ConfigError } from './errors.js';
import type { ModelsSetting } from './settings.js';

/** How a variable's text is read. */
export type EnvKind = 'string' | 'lowercase' | 'int' | 'fraction' | 'bool' | 'models';

export interface EnvVariable {
  readonly name: string;
  /** The settings it sets, as dotted paths of the configuration (`worker.maxAttempts`). */
  readonly paths: readonly string[];
  readonly kind: EnvKind;
  /** How environment.md states the default when that is not the value itself. */
  readonly documentedDefault?: string;
}

const v = (
  name: string,
  kind: EnvKind,
  paths: string | readonly string[],
  documentedDefault?: string,
): EnvVariable => ({
  name,
  kind,
  paths: typeof paths === 'string' ? [paths] : paths,
  ...(documentedDefault === undefined ? {} : { documentedDefault }),
});

/** Every variable, in the order of docs/reference/environment.md. */
export const environmentVariables: readonly EnvVariable[] = [
  v('REDIS_URL', 'string', 'redis.url'),
  v('PROMPTQ_REDIS_MODE', 'lowercase', 'redis.mode'),
  v('PROMPTQ_REDIS_SENTINEL_NAME', 'string', 'redis.sentinelName'),
  v('PROMPTQ_ENQUEUE_TIMEOUT_MS', 'int', 'redis.enqueueTimeoutMs'),
  v('PROMPTQ_REDIS_TIMEOUT_MS', 'int', 'redis.requestDeadlineMs'),
  v('ANTHROPIC_API_KEY', 'string', 'anthropic.apiKey'),
  v('ANTHROPIC_BASE_URL', 'string', 'anthropic.baseUrl', "the SDK's default"),
  v('PROMPTQ_ACCOUNTS', 'string', 'accountsFile'),
  v('PROMPTQ_QUEUE', 'string', 'queue'),
  v('HOST', 'string', 'http.host'),
  v('PORT', 'int', 'http.port'),
  v('PROMPTQ_AUTH_TOKEN', 'string', 'http.authToken'),
  v('PROMPTQ_METRICS_TOKEN', 'string', 'http.metricsToken'),
  v('PROMPTQ_BOARD_READ_ONLY', 'bool', 'http.boardReadOnly'),
  v('PROMPTQ_HTTP_HEADERS_TIMEOUT_MS', 'int', 'http.headersTimeoutMs'),
  v('PROMPTQ_HTTP_REQUEST_TIMEOUT_MS', 'int', 'http.requestTimeoutMs'),
  v('PROMPTQ_MAX_CONNECTIONS_PER_IP', 'int', 'http.maxConnectionsPerIp'),
  v('PROMPTQ_MAX_WAITERS', 'int', 'waiters.maxWaiters'),
  v('PROMPTQ_MAX_WAITERS_PER_TENANT', 'int', 'waiters.maxPerTenant'),
  v('PROMPTQ_CONCURRENCY', 'int', 'worker.concurrency', 'chosen by the limiter'),
  v('PROMPTQ_MAX_ATTEMPTS', 'int', 'worker.maxAttempts'),
  v('PROMPTQ_MAX_RATE_LIMITED', 'int', 'worker.maxRateLimited'),
  v('PROMPTQ_FALLBACK_AFTER_OVERLOADED', 'int', 'worker.fallbackAfterOverloaded'),
  // The job backoff and the limiter's overload pause of a group are one policy.
  v('PROMPTQ_RETRY_BASE_MS', 'int', ['worker.backoff.baseMs', 'limiter.tuning.overloadBaseMs']),
  v('PROMPTQ_RETRY_MAX_MS', 'int', ['worker.backoff.maxMs', 'limiter.tuning.overloadMaxMs']),
  v('PROMPTQ_REQUEST_TIMEOUT_MS', 'int', 'worker.requestTimeoutMs'),
  v('PROMPTQ_SHUTDOWN_TIMEOUT_MS', 'int', 'worker.shutdownTimeoutMs'),
  v('PROMPTQ_LOCK_DURATION_MS', 'int', 'worker.lockDurationMs'),
  v('PROMPTQ_STALLED_INTERVAL_MS', 'int', 'worker.stalledIntervalMs'),
  v('PROMPTQ_MAX_RPM', 'int', 'limiter.ceilings.rpm', 'none'),
  v('PROMPTQ_MAX_ITPM', 'int', 'limiter.ceilings.itpm', 'none'),
  v('PROMPTQ_MAX_OTPM', 'int', 'limiter.ceilings.otpm', 'none'),
  v('PROMPTQ_TARGET_UTILIZATION', 'fraction', 'limiter.tuning.target'),
  v('PROMPTQ_CACHE_WRITE_WAIT_MS', 'int', 'limiter.tuning.cacheWriteWaitMs'),
  v('PROMPTQ_MAX_TOKENS_CAP', 'int', 'jobs.limits.maxTokens'),
  v('PROMPTQ_KEEP_COMPLETED_SECONDS', 'int', 'jobs.keepCompletedSeconds'),
  v('PROMPTQ_KEEP_FAILED_SECONDS', 'int', 'jobs.keepFailedSeconds'),
  v('PROMPTQ_LOG_LEVEL', 'lowercase', 'log.level'),
  v('PROMPTQ_LOG_PROMPTS', 'bool', 'worker.logPrompts'),
  v('PROMPTQ_PRICING_FILE', 'string', 'pricingFile'),
  v('PROMPTQ_MODELS', 'models', 'jobs.models'),
  v('PROMPTQ_MAX_TENANT_LABELS', 'int', 'labels.maxTenants'),
  v('PROMPTQ_MAX_MODEL_LABELS', 'int', 'labels.maxModels'),
  v('PROMPTQ_WEBHOOK_SECRET', 'string', 'webhooks.secret'),
  v('PROMPTQ_SECRETS_KEY', 'string', 'webhooks.secretsKey'),
  v('PROMPTQ_WEBHOOK_ALLOW_PRIVATE', 'bool', 'webhooks.allowPrivate'),
  v('PROMPTQ_WEBHOOK_ALLOW_HOSTS', 'string', 'webhooks.allowHosts'),
  v('PROMPTQ_WEBHOOK_RETRY_PERIOD', 'int', 'webhooks.retryPeriodSeconds'),
  v('PROMPTQ_WEBHOOK_CONCURRENCY', 'int', 'webhooks.concurrency'),
  v('PROMPTQ_WEBHOOK_TIMEOUT_MS', 'int', 'webhooks.deliveryTimeoutMs'),
];

export type Env = Readonly<Record<string, string | undefined>>;

/** A variable's value, trimmed; empty counts as unset. */
export function envText(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

/** A variable's text as the value its settings take; throws {@link ConfigError} naming it. */
export function readVariable(variable: EnvVariable, text: string): unknown {
  const { name } = variable;
  switch (variable.kind) {
    case 'string':
      return text;
    case 'lowercase':
      return text.toLowerCase();
    case 'int':
      if (!/^\d+$/.test(text)) throw new ConfigError(name, `expected a whole number, got "${text}"`);
      return Number(text);
    case 'fraction': {
      const n = Number(text);
      if (!/^\d*\.?\d+$/.test(text) || !(n > 0 && n <= 1)) {
        throw new ConfigError(name, `expected a number in (0, 1], got "${text}"`);
      }
      return n;
    }
    case 'bool': {
      const lower = text.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
      if (['0', 'false', 'no', 'off'].includes(lower)) return false;
      throw new ConfigError(name, `expected true or false, got "${lower}"`);
    }
    case 'models':
      return modelsSetting(name, text);
  }
}

/** `PROMPTQ_MODELS`: `any`, `known`, or a comma-separated list of model names (may include `known`). */
function modelsSetting(name: string, text: string): ModelsSetting {
  const items = text
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (items.length === 1 && items[0] === 'any') return { kind: 'any' };
  const bad = items.find((m) => m === 'any' || !/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,255}$/.test(m));
  if (bad !== undefined || items.length === 0) {
    throw new ConfigError(
      name,
      bad === 'any'
        ? '"any" goes alone'
        : `expected any, known, or a comma-separated list of model names (may include known), got "${bad ?? text}"`,
    );
  }
  return { kind: 'listed', known: items.includes('known'), names: items.filter((m) => m !== 'known') };
}

/** The settings an environment gives, by path (unset variables give none). */
export function readEnvironment(env: Env): Map<string, { value: unknown; variable: string }> {
  const given = new Map<string, { value: unknown; variable: string }>();
  for (const variable of environmentVariables) {
    const text = envText(env, variable.name);
    if (text === undefined) continue;
    const value = readVariable(variable, text);
    for (const path of variable.paths) given.set(path, { value, variable: variable.name });
  }
  return given;
}
