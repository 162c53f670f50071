import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A free TCP port on loopback (the OS picks it; released before we return). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface TestRedisOptions {
  /** Append-only file with fsync every second (for restart tests). */
  appendonly?: boolean;
  /**
   * Listen on a unix socket too ({@link TestRedis.socketPath}): a round trip costs both processes
   * less CPU than over loopback TCP (the limiter lab's clients use it).
   */
  unixSocket?: boolean;
}

/**
 * A private `redis-server` for tests and benchmarks: random port, its own data directory, and
 * `stop()`/`start()` so fault tests can kill and restart it on the same port.
 */
export class TestRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'promptq-redis-'));
  #proc: ChildProcess | undefined;
  port = 0;

  constructor(readonly options: TestRedisOptions = {}) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The unix socket (with the `unixSocket` option; ioredis's `path`). */
  get socketPath(): string {
    return join(this.dir, 'redis.sock');
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', ''];
    args.push('--appendonly', this.options.appendonly ? 'yes' : 'no', '--appendfsync', 'everysec');
    if (this.options.unixSocket) args.push('--unixsocket', this.socketPath, '--unixsocketperm', '700');
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    this.#proc = proc;
    await new Promise<void>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('spawn', () => resolve());
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const client = new Redis(this.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.ping();
        client.disconnect();
        return;
      } catch {
        client.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server did not start on ${this.port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Kill the server (SIGKILL when `hard`, else a clean SIGTERM) and wait for it to exit. */
  async stop(hard = false): Promise<void> {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
    this.#proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop(true);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
