/**
 * `promptq start` with no Redis reachable: start a private `redis-server` (when one is on PATH) on
 * the port REDIS_URL names, with its data in `.promptq/redis` (append-only file, so jobs survive a
 * restart), and stop it when promptq exits.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { ConfigError, isLoopback, redactUrl } from '../core/config.js';
import type { Logger } from '../core/log.js';

/** Can we PING `url` within `timeoutMs`? */
export async function redisReachable(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export interface EmbeddedRedis {
  url: string;
  stop(): Promise<void>;
}

/**
 * Make sure a Redis answers at `url`: use it if it does, else start one. Throws {@link ConfigError}
 * (exit 2) with a way forward when that is impossible.
 */
export async function ensureRedis(
  url: string,
  log: Logger,
  dataDir = '.promptq/redis',
): Promise<EmbeddedRedis | null> {
  if (await redisReachable(url)) return null;
  const u = new URL(url);
  if (!isLoopback(u.hostname)) {
    throw new ConfigError(
      'REDIS_URL',
      `no Redis answers at ${u.host}; start it or point REDIS_URL at one that runs`,
    );
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new ConfigError(
      'REDIS_URL',
      `no Redis at ${u.host} and no redis-server on PATH: install Redis (e.g. apt-get install redis-server, brew install redis) or set REDIS_URL`,
    );
  }
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const port = u.port === '' ? '6379' : u.port;
  const proc: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      port,
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  while (!(await redisReachable(url, 500))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new ConfigError('REDIS_URL', `started redis-server on port ${port} but it did not answer`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  log.info('started a private redis-server (no Redis was reachable)', {
    url: redactUrl(url),
    data_dir: dir,
    pid: proc.pid,
  });
  const exitHook = () => proc.kill('SIGTERM');
  process.once('exit', exitHook);
  return {
    url,
    async stop() {
      process.removeListener('exit', exitHook);
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
