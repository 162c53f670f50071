import { describe, expect, it } from 'vitest';
import { ConfigError, checkListenAddress, loadConfig } from '../../src/core/config.js';
import { defaults } from '../../src/core/defaults.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.queue).toBe('prompts');
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(3000);
    expect(c.anthropicApiKey).toBeUndefined();
    expect(c.concurrency).toBe(defaults.concurrency);
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

  it('refuses a non-loopback HOST without a token, accepts it with one', () => {
    expect(() => checkListenAddress(loadConfig({ HOST: '0.0.0.0' }))).toThrow(/HOST: .*PROMPTQ_AUTH_TOKEN/);
    expect(() => checkListenAddress(loadConfig({ HOST: '10.1.2.3' }))).toThrow(ConfigError);
    expect(() =>
      checkListenAddress(loadConfig({ HOST: '0.0.0.0', PROMPTQ_AUTH_TOKEN: 'x'.repeat(32) })),
    ).not.toThrow();
    expect(() => checkListenAddress(loadConfig({ HOST: 'localhost' }))).not.toThrow();
    expect(() => checkListenAddress(loadConfig({ HOST: '127.0.0.2' }))).not.toThrow();
  });
});
