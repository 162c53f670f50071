import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

/** Poll `check` every 100 ms until it returns true; throw naming `what` after `timeoutMs`. */
export async function poll(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One command on a node, on a fresh short-lived connection (fails fast when the node is down). */
export async function nodeCommand(port: number, ...args: string[]): Promise<unknown> {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return await c.call(args[0]!, ...args.slice(1));
  } finally {
    c.disconnect();
  }
}

/** A `redis-server` process on a fixed port with its own directory; restartable. */
export class RedisProcess {
  #proc: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly dir: string,
    readonly args: string[],
    readonly binary = 'redis-server',
  ) {
    mkdirSync(dir, { recursive: true });
  }

  get running(): boolean {
    return this.#proc !== undefined && this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  async start(): Promise<void> {
    // The server's own log, for the message when it does not come up (a port taken, a bad flag).
    const logFile = join(this.dir, 'redis.log');
    const log = openSync(logFile, 'a');
    const proc = spawn(this.binary, [...this.args], { stdio: ['ignore', log, log], cwd: this.dir });
    closeSync(log);
    this.#proc = proc;
    await new Promise<void>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('spawn', () => resolve());
    });
    try {
      await poll(
        async () => (await nodeCommand(this.port, 'PING')) === 'PONG',
        `redis on ${this.port}`,
        10_000,
      );
    } catch (err) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      throw new Error(`${(err as Error).message}; its log ends:\n${tail}`);
    }
  }

  /** SIGKILL (`hard`) or SIGTERM, and wait for the exit. */
  async stop(hard = true): Promise<void> {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  }
}

export interface TestClusterOptions {
  /** Primaries (each gets one replica). @defaultValue `3` */
  primaries?: number;
  /** `cluster-node-timeout` in ms: how long a dead primary takes to be failed over. @defaultValue `2000` */
  nodeTimeoutMs?: number;
}

/**
 * A private Redis Cluster for tests: N primaries and N replicas on random loopback ports
 * (`redis-server --cluster-enabled yes` + `redis-cli --cluster create --cluster-replicas 1`), each
 * node killable and restartable, so failover tests can SIGKILL a primary and watch its replica
 * take over.
 */
export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'promptq-cluster-'));
  readonly nodes: RedisProcess[] = [];
  readonly #options: Required<TestClusterOptions>;

  constructor(options: TestClusterOptions = {}) {
    this.#options = { primaries: options.primaries ?? 3, nodeTimeoutMs: options.nodeTimeoutMs ?? 2000 };
  }

  /** `redis://h:p,h:p,…`: every node as a seed (PROMPTQ_REDIS_MODE=cluster). */
  get url(): string {
    return `redis://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.#options.primaries * 2; i++) {
      const port = await freePort();
      const dir = join(this.dir, String(port));
      const node = new RedisProcess(port, dir, [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        String(this.#options.nodeTimeoutMs),
        '--save',
        '',
        '--appendonly',
        'no',
      ]);
      await node.start();
      this.nodes.push(node);
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    await this.waitHealthy();
  }

  /** Until every slot is served and every node agrees (`cluster_state:ok` on every running node). */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await poll(
      async () => {
        for (const n of this.nodes.filter((n) => n.running)) {
          const info = String(await nodeCommand(n.port, 'CLUSTER', 'INFO'));
          if (!info.includes('cluster_state:ok')) return false;
        }
        return true;
      },
      'cluster_state:ok on every node',
      timeoutMs,
    );
  }

  /** The ports of the primaries as the given live node sees them. */
  async primaries(): Promise<number[]> {
    const live = this.nodes.find((n) => n.running);
    if (!live) return [];
    const text = String(await nodeCommand(live.port, 'CLUSTER', 'NODES'));
    return text
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => (f[2] ?? '').split(',').includes('master') && !(f[2] ?? '').includes('fail'))
      .map((f) => Number(/:(\d+)@/.exec(f[1] ?? '')?.[1]));
  }

  /** The node serving `key`'s slot as primary. */
  async primaryOf(key: string): Promise<RedisProcess> {
    const live = this.nodes.find((n) => n.running)!;
    const slot = Number(await nodeCommand(live.port, 'CLUSTER', 'KEYSLOT', key));
    const slots = (await nodeCommand(live.port, 'CLUSTER', 'SLOTS')) as Array<
      [number, number, [string, number]]
    >;
    const range = slots.find(([a, b]) => slot >= a && slot <= b);
    const port = range?.[2][1];
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no primary for slot ${slot}`);
    return node;
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) await n.stop(true);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
