import { describe, expect, it } from 'vitest';
import { ConfigError, checkListenAddress, loadConfig, resolveConfig } from '../../src/core/config.js';
import { defaults } from '../../src/core/defaults.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.queue).toBe('prompts');
    expect(c.http.host).toBe('127.0.0.1');
    expect(c.http.port).toBe(3000);
    expect(c.anthropic.apiKey).toBeUndefined();
    expect(c.worker.concurrency).toBe(defaults.worker.concurrency);
    // An empty environment is the defaults, field for field.
    expect(c).toEqual(defaults);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PROMPTQ_CONCURRENCY', '0'],
    ['REDIS_URL', 'localhost:6379'],
    ['PROMPTQ_QUEUE', 'bad name!'],
    ['ANTHROPIC_BASE_URL', 'ftp://x'],
    ['PROMPTQ_LOG_PROMPTS', 'maybe'],
    ['PROMPTQ_AUTH_TOKEN', 'short'],
    ['PROMPTQ_METRICS_TOKEN', 'short'],
    ['PROMPTQ_LOCK_DURATION_MS', '5'],
    ['PROMPTQ_STALLED_INTERVAL_MS', 'soon'],
    ['PROMPTQ_BOARD_READ_ONLY', 'maybe'],
    ['PROMPTQ_RETRY_BASE_MS', '0'],
    ['PROMPTQ_TARGET_UTILIZATION', '1.5'],
    ['PROMPTQ_MAX_MODEL_LABELS', '10001'],
  ])('a bad %s=%s names the variable', (name, value) => {
    try {
      loadConfig({ [name]: value });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(name);
      expect((err as Error).message.startsWith(`${name}: `)).toBe(true);
    }
  });

  it('a range is checked at its bounds from both sides, from the environment and from code alike', () => {
    expect(loadConfig({ PROMPTQ_MAX_ATTEMPTS: '100' }).worker.maxAttempts).toBe(100);
    expect(() => loadConfig({ PROMPTQ_MAX_ATTEMPTS: '101' })).toThrow(
      'PROMPTQ_MAX_ATTEMPTS: must be between 1 and 100, got 101',
    );
    expect(loadConfig({ PROMPTQ_MAX_ATTEMPTS: '1' }).worker.maxAttempts).toBe(1);
    expect(() => loadConfig({ PROMPTQ_MAX_ATTEMPTS: '0' })).toThrow(
      'PROMPTQ_MAX_ATTEMPTS: must be between 1 and 100, got 0',
    );
    // The cache-aware order's wait: 0 (off) to 10 minutes.
    expect(loadConfig({ PROMPTQ_CACHE_WRITE_WAIT_MS: '600000' }).limiter.tuning.cacheWriteWaitMs).toBe(
      600_000,
    );
    expect(() => loadConfig({ PROMPTQ_CACHE_WRITE_WAIT_MS: '600001' })).toThrow(
      'PROMPTQ_CACHE_WRITE_WAIT_MS: must be between 0 and 600000, got 600001',
    );
    expect(loadConfig({ PROMPTQ_CACHE_WRITE_WAIT_MS: '0' }).limiter.tuning.cacheWriteWaitMs).toBe(0);
    expect(() => loadConfig({ PROMPTQ_CACHE_WRITE_WAIT_MS: '-1' })).toThrow('PROMPTQ_CACHE_WRITE_WAIT_MS: ');
    expect(resolveConfig({ worker: { maxAttempts: 100 } }).worker.maxAttempts).toBe(100);
    expect(() => resolveConfig({ worker: { maxAttempts: 101 } })).toThrow(
      'worker.maxAttempts: must be between 1 and 100, got 101',
    );
    expect(() => resolveConfig({ worker: { maxAttempts: 2.5 } })).toThrow(
      'worker.maxAttempts: expected a whole number, got 2.5',
    );
  });

  it('refuses a non-loopback HOST without a token, accepts it with one', () => {
    expect(() => checkListenAddress(loadConfig({ HOST: '0.0.0.0' }).http)).toThrow(
      /HOST: .*PROMPTQ_AUTH_TOKEN/,
    );
    expect(() => checkListenAddress(loadConfig({ HOST: '10.1.2.3' }).http)).toThrow(ConfigError);
    expect(() =>
      checkListenAddress(loadConfig({ HOST: '0.0.0.0', PROMPTQ_AUTH_TOKEN: 'x'.repeat(32) }).http),
    ).not.toThrow();
    expect(() => checkListenAddress(loadConfig({ HOST: 'localhost' }).http)).not.toThrow();
    expect(() => checkListenAddress(loadConfig({ HOST: '127.0.0.2' }).http)).not.toThrow();
  });

  it('PROMPTQ_RETRY_*_MS set the job backoff and the limiter overload pause together (60 s by default)', () => {
    const c = loadConfig({ PROMPTQ_RETRY_BASE_MS: '250', PROMPTQ_RETRY_MAX_MS: '9000' });
    expect(c.worker.backoff).toMatchObject({ baseMs: 250, maxMs: 9000 });
    expect(c.limiter.tuning).toMatchObject({ overloadBaseMs: 250, overloadMaxMs: 9000 });
    // The value `promptq start` always passed the limiter, now its one default.
    expect(loadConfig({}).limiter.tuning).toMatchObject({ overloadBaseMs: 1000, overloadMaxMs: 60_000 });
  });

  it('PROMPTQ_CONCURRENCY set: exactly that many; unset: adaptive between its bounds', () => {
    expect(loadConfig({}).worker.adaptiveConcurrency).toEqual({ min: 8, max: 256, intervalMs: 2000 });
    const fixed = loadConfig({ PROMPTQ_CONCURRENCY: '4' }).worker;
    expect(fixed).toMatchObject({ concurrency: 4, adaptiveConcurrency: false });
  });
});

describe('resolveConfig', () => {
  it('merges the settings given over the defaults, slice by slice; the result is frozen', () => {
    const c = resolveConfig({ queue: 'q1', worker: { backoff: { maxMs: 5000 } }, labels: { maxModels: 3 } });
    expect(c.queue).toBe('q1');
    expect(c.worker.backoff).toEqual({ ...defaults.worker.backoff, maxMs: 5000 });
    expect(c.worker.maxAttempts).toBe(defaults.worker.maxAttempts);
    expect(c.labels).toEqual({ maxTenants: defaults.labels.maxTenants, maxModels: 3 });
    expect(Object.isFrozen(c) && Object.isFrozen(c.worker.backoff)).toBe(true);
    // Resolved once: a resolved configuration goes through unchanged.
    expect(resolveConfig(c)).toBe(c);
    // The defaults themselves are not touched.
    expect(defaults.queue).toBe('prompts');
  });

  it('names a setting that does not exist, and a value of the wrong type', () => {
    expect(() => resolveConfig({ worker: { maxAttempt: 3 } } as never)).toThrow(
      'worker.maxAttempt: no such setting',
    );
    expect(() => resolveConfig({ http: { port: '80' } } as never)).toThrow(
      'http.port: expected a number, got "80"',
    );
    expect(() => resolveConfig({ anthropic: { apiKey: 5 } } as never)).toThrow(
      'anthropic.apiKey: expected a string, got 5',
    );
    expect(() => resolveConfig({ limiter: { tuning: { burstMs: -1 } } })).toThrow(
      'limiter.tuning.burstMs: must not be negative, got -1',
    );
  });

  it('checks settings together where they go together', () => {
    expect(() => resolveConfig({ prefix: 'bull:{x}', redis: { mode: 'cluster' } })).toThrow(
      /^prefix: "bull:\{x\}" has a hash tag/,
    );
    expect(resolveConfig({ prefix: 'bull:{x}' }).prefix).toBe('bull:{x}');
    expect(() => resolveConfig({ redis: { mode: 'sentinel' } })).toThrow(/^redis\.sentinelName: required/);
    expect(() => resolveConfig({ worker: { adaptiveConcurrency: { min: 9, max: 8 } } })).toThrow(
      /^worker\.adaptiveConcurrency: expected false or 1 ≤ min ≤ max/,
    );
    expect(
      resolveConfig({ worker: { adaptiveConcurrency: { min: 8, max: 8 } } }).worker.adaptiveConcurrency,
    ).toEqual({
      min: 8,
      max: 8,
      intervalMs: 2000,
    });
  });
});
