/**
 * `promptq start` with no Redis reachable: start a private `redis-server` (when one is on PATH) on
 * the port REDIS_URL names, with its data in `.promptq/redis` (append-only file, so jobs survive a
 * restart), and stop it when promptq exits.
 *
 * It is private: the data directory is 0700 and every file in it 0600 (the server runs under
 * umask 077; files an earlier version left readable are narrowed at start), and the server asks
 * for a password, generated once and kept in `<dir>/password` (0600). The password never appears
 * on a command line (the server reads its settings from stdin). promptq's commands run in the same
 * directory find it there ({@link embeddedRedisUrl}); other clients need it in REDIS_URL
 * (`redis://:PASSWORD@127.0.0.1:6379`).
 *
 * One server per data directory: `<dir>/promptq.lock` names the promptq process and its server.
 * A second `promptq start` on the same REDIS_URL uses the running server; one that would start a
 * second server on the directory (another port) is refused with the directory named. A lock whose
 * processes are gone (a killed promptq) is taken over.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { ConfigError, isLoopback, redactUrl } from '../core/config.js';
import type { Logger } from '../core/log.js';

/** Where `promptq start` keeps its private Redis's data, relative to the working directory. */
export const defaultDataDir = '.promptq/redis';

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
  /** The URL to use: REDIS_URL, with the private server's password when it has one. */
  url: string;
  /** Stops the server this process started (nothing for one it found running). */
  stop(): Promise<void>;
}

/** What `<dir>/promptq.lock` holds. */
interface LockInfo {
  /** The `promptq start` that owns the server. */
  pid: number;
  /** The server, once started. */
  redis_pid: number | null;
  port: string;
}

const lockFile = (dir: string) => join(dir, 'promptq.lock');
const passwordFile = (dir: string) => join(dir, 'password');

function alive(pid: number | null | undefined): boolean {
  if (typeof pid !== 'number' || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock of `dir` when its processes still run; a stale one is removed. */
function liveLock(dir: string): LockInfo | null {
  let info: LockInfo;
  try {
    info = JSON.parse(readFileSync(lockFile(dir), 'utf8')) as LockInfo;
  } catch {
    return null;
  }
  if (alive(info.redis_pid) || alive(info.pid)) return info;
  try {
    unlinkSync(lockFile(dir));
  } catch {}
  return null;
}

/** `url` with the password of the private server of `dir`, when the server runs there. */
function withPassword(url: string, dir: string, port: string): string {
  const u = new URL(url);
  if (u.password !== '' || u.username !== '' || !isLoopback(u.hostname)) return url;
  const lock = liveLock(dir);
  if (lock === null || lock.port !== port || !existsSync(passwordFile(dir))) return url;
  u.password = encodeURIComponent(readFileSync(passwordFile(dir), 'utf8').trim());
  return u.toString();
}

const portOf = (u: URL) => (u.port === '' ? '6379' : u.port);

/**
 * REDIS_URL for promptq's commands: with the password of the private server `promptq start` runs
 * for this directory when REDIS_URL names it (a loopback URL without credentials, on its port).
 */
export function embeddedRedisUrl(url: string, dataDir = defaultDataDir): string {
  try {
    return withPassword(url, resolve(dataDir), portOf(new URL(url)));
  } catch {
    return url;
  }
}

/** The data directory 0700 and what is in it 0600 (subdirectories 0700). */
function makePrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) makePrivate(path);
    else chmodSync(path, 0o600);
  }
}

/** The server's password: generated on first start, kept 0600 in the data directory. */
function passwordOf(dir: string): string {
  const file = passwordFile(dir);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  return password;
}

/**
 * Make sure a Redis answers at `url`: use it if it does (or the private server of `dataDir` does,
 * with its password), else start one. Throws {@link ConfigError} (exit 2) with a way forward when
 * that is impossible, or when another promptq's server holds `dataDir`.
 */
export async function ensureRedis(
  url: string,
  log: Logger,
  dataDir = defaultDataDir,
): Promise<EmbeddedRedis> {
  const u = new URL(url);
  const dir = resolve(dataDir);
  const port = portOf(u);
  const theirs = (found: string): EmbeddedRedis => {
    // Another promptq start's private server for this directory (its password came from there).
    if (liveLock(dir)?.port === port && isLoopback(u.hostname))
      log.info('using the private redis-server already running for this directory', {
        url: redactUrl(found),
        data_dir: dir,
      });
    return { url: found, stop: async () => {} };
  };
  if (await redisReachable(url)) return theirs(url);
  const authed = withPassword(url, dir, port);
  if (authed !== url && (await redisReachable(authed))) return theirs(authed);
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
  makePrivate(dir);
  lock(dir, { pid: process.pid, redis_pid: null, port });
  try {
    return await startServer(url, dir, port, log);
  } catch (err) {
    unlock(dir);
    throw err;
  }
}

/** Take `dir`'s lock, or refuse naming the promptq that holds it. */
function lock(dir: string, info: LockInfo): void {
  const held = liveLock(dir);
  const refuse = (h: LockInfo) =>
    new ConfigError(
      'REDIS_URL',
      `${dir} is in use by another promptq start (pid ${h.pid}) whose redis-server listens on port ${h.port}: one redis-server per data directory. Use that one (REDIS_URL=redis://127.0.0.1:${h.port}), stop it first, or run from another directory`,
    );
  if (held !== null) throw refuse(held);
  try {
    writeFileSync(lockFile(dir), JSON.stringify(info), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = liveLock(dir);
    throw refuse(winner ?? info);
  }
}

function unlock(dir: string): void {
  try {
    const info = JSON.parse(readFileSync(lockFile(dir), 'utf8')) as LockInfo;
    if (info.pid === process.pid) unlinkSync(lockFile(dir));
  } catch {}
}

/** Start the server (umask 077, settings on stdin) and wait until it answers. */
async function startServer(url: string, dir: string, port: string, log: Logger): Promise<EmbeddedRedis> {
  const password = passwordOf(dir);
  const settings = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir "${dir.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`,
    'appendonly yes',
    'appendfsync everysec',
    'save ""',
    `requirepass ${password}`,
  ];
  const proc: ChildProcess = spawn('sh', ['-c', 'umask 077 && exec redis-server -'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  proc.stdin?.end(`${settings.join('\n')}\n`);
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  const authed = u.toString();
  const deadline = Date.now() + 10_000;
  while (!(await redisReachable(authed, 500))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new ConfigError('REDIS_URL', `started redis-server on port ${port} but it did not answer`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  writeFileSync(lockFile(dir), JSON.stringify({ pid: process.pid, redis_pid: proc.pid ?? null, port }), {
    mode: 0o600,
  });
  log.info('started a private redis-server (no Redis was reachable)', {
    url: redactUrl(authed),
    data_dir: dir,
    pid: proc.pid,
  });
  const exitHook = () => {
    proc.kill('SIGTERM');
    unlock(dir);
  };
  process.once('exit', exitHook);
  return {
    url: authed,
    async stop() {
      process.removeListener('exit', exitHook);
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      unlock(dir);
    },
  };
}
