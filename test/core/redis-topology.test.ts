import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/core/config.js';
import { parseRedisUrl } from '../../src/core/redis-url.js';
import { describeTopology } from '../../src/store/connection.js';
import { keyspaceOf } from '../../src/store/keys.js';

describe('REDIS_URL and PROMPTQ_REDIS_MODE', () => {
  it('parses one or more hosts, credentials, TLS and the database', () => {
    expect(parseRedisUrl('rediss://u:p%40ss@a:7000,b:7001,[::1]:7002')).toEqual({
      tls: true,
      username: 'u',
      password: 'p@ss',
      db: 0,
      hosts: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
    expect(parseRedisUrl('redis://:secret@h/3', 26379)).toMatchObject({
      username: undefined,
      password: 'secret',
      db: 3,
      hosts: [{ host: 'h', port: 26379 }],
    });
  });

  it('accepts each mode with its URL form', () => {
    expect(loadConfig({}).redis.mode).toBe('single');
    expect(loadConfig({ PROMPTQ_REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:7000,b:7001' })).toMatchObject({
      redis: { mode: 'cluster' },
    });
    expect(
      loadConfig({
        PROMPTQ_REDIS_MODE: 'sentinel',
        REDIS_URL: 'redis://s1:26379,s2:26379',
        PROMPTQ_REDIS_SENTINEL_NAME: 'mymaster',
      }),
    ).toMatchObject({ redis: { mode: 'sentinel', sentinelName: 'mymaster' } });
  });

  it.each([
    [{ PROMPTQ_REDIS_MODE: 'replicated' }, 'PROMPTQ_REDIS_MODE'],
    [{ REDIS_URL: 'redis://a:1,b:2' }, 'REDIS_URL'],
    [{ PROMPTQ_REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:1,b:99999' }, 'REDIS_URL'],
    [{ PROMPTQ_REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:1/2' }, 'REDIS_URL'],
    [{ PROMPTQ_REDIS_MODE: 'sentinel', REDIS_URL: 'redis://s:26379' }, 'PROMPTQ_REDIS_SENTINEL_NAME'],
    [{ PROMPTQ_REDIS_SENTINEL_NAME: 'm' }, 'PROMPTQ_REDIS_SENTINEL_NAME'],
  ])('%o is one error naming %s', (env, variable) => {
    try {
      loadConfig(env);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(variable);
      expect((err as Error).message.split('\n')).toHaveLength(1);
    }
  });

  it('hash-tags keys on a cluster only; messages never show the password', () => {
    const cluster = loadConfig({ PROMPTQ_REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:7000,b:7001' });
    expect(keyspaceOf(cluster).prefix).toBe('bull:{prompts}');
    const sentinel = loadConfig({
      PROMPTQ_REDIS_MODE: 'sentinel',
      REDIS_URL: 'redis://s1:26379,s2:26379',
      PROMPTQ_REDIS_SENTINEL_NAME: 'mymaster',
    });
    expect(keyspaceOf(sentinel).prefix).toBe('bull');
    const text = describeTopology({ mode: 'cluster', url: 'redis://u:hunter2@a:1,b:2' });
    expect(text).toBe('Redis Cluster at redis://a:1,b:2');
  });
});

describe('an unreachable topology at start', () => {
  it('exits 2 with one line naming REDIS_URL', { timeout: 60_000 }, async () => {
    const { spawnCli } = await import('../helpers/cli.js');
    const p = spawnCli(['worker'], {
      PROMPTQ_REDIS_MODE: 'cluster',
      REDIS_URL: 'redis://127.0.0.1:1,127.0.0.1:2',
      PORT: '0',
    });
    expect(await p.exited).toBe(2);
    const lines = p.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /REDIS_URL: cannot reach Redis Cluster at redis:\/\/127\.0\.0\.1:1,127\.0\.0\.1:2/,
    );
  });
});
