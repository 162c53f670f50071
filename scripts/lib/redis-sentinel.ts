import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCommand, poll, RedisProcess } from './redis-cluster.js';
import { freePort } from './redis-server.js';

/** Debian's `redis-sentinel` when installed, else `redis-server --sentinel` (the same program). */
const sentinelBinary =
  spawnSync('redis-sentinel', ['--version'], { stdio: 'ignore' }).status === 0
    ? 'redis-sentinel'
    : 'redis-server';

export interface TestSentinelOptions {
  /** The master's name. @defaultValue `promptq` */
  name?: string;
  /** `down-after-milliseconds`: how long a dead master takes to be declared down. @defaultValue `1000` */
  downAfterMs?: number;
}

/**
 * A private Sentinel set for tests: a master, a replica and three sentinels (quorum 2) on random
 * loopback ports, each killable and restartable, so failover tests can SIGKILL the master and watch
 * the sentinels promote the replica.
 */
export class TestSentinel {
  readonly dir = mkdtempSync(join(tmpdir(), 'promptq-sentinel-'));
  /** [master, replica] as started (after a failover the roles swap: see {@link masterPort}). */
  readonly data: RedisProcess[] = [];
  readonly sentinels: RedisProcess[] = [];
  readonly name: string;
  readonly #downAfterMs: number;

  constructor(options: TestSentinelOptions = {}) {
    this.name = options.name ?? 'promptq';
    this.#downAfterMs = options.downAfterMs ?? 1000;
  }

  /** `redis://h:p,h:p,h:p`: the sentinels (PROMPTQ_REDIS_MODE=sentinel). */
  get url(): string {
    return `redis://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}`;
  }

  async start(): Promise<void> {
    const dataArgs = (port: number, dir: string) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    const masterPort = await freePort();
    const master = new RedisProcess(
      masterPort,
      join(this.dir, 'master'),
      dataArgs(masterPort, join(this.dir, 'master')),
    );
    await master.start();
    const replicaPort = await freePort();
    const replicaDir = join(this.dir, 'replica');
    const replica = new RedisProcess(replicaPort, replicaDir, [
      ...dataArgs(replicaPort, replicaDir),
      '--replicaof',
      '127.0.0.1',
      String(masterPort),
    ]);
    await replica.start();
    this.data.push(master, replica);
    await poll(
      async () =>
        String(await nodeCommand(replicaPort, 'INFO', 'replication')).includes('master_link_status:up'),
      'the replica to sync',
    );
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = join(this.dir, `sentinel-${i}`);
      const conf = join(this.dir, `sentinel-${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${this.name} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${this.name} ${this.#downAfterMs}`,
          `sentinel failover-timeout ${this.name} 10000`,
          `sentinel parallel-syncs ${this.name} 1`,
          '',
        ].join('\n'),
      );
      const s = new RedisProcess(port, dir, [conf, '--sentinel'], sentinelBinary);
      await s.start();
      this.sentinels.push(s);
    }
    // Every sentinel knows the replica and the other sentinels before a test may kill anything.
    await poll(async () => {
      for (const s of this.sentinels) {
        const m = (await nodeCommand(s.port, 'SENTINEL', 'MASTER', this.name)) as string[];
        const f = (k: string) => Number(m[m.indexOf(k) + 1]);
        if (f('num-slaves') < 1 || f('num-other-sentinels') < 2) return false;
      }
      return true;
    }, 'the sentinels to discover each other and the replica');
  }

  /** The master's port as the first live sentinel reports it. */
  async masterPort(): Promise<number> {
    const s = this.sentinels.find((x) => x.running)!;
    const [, port] = (await nodeCommand(s.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as [
      string,
      string,
    ];
    return Number(port);
  }

  /** The data node that is master now. */
  async master(): Promise<RedisProcess> {
    const port = await this.masterPort();
    return this.data.find((d) => d.port === port)!;
  }

  async destroy(): Promise<void> {
    for (const p of [...this.sentinels, ...this.data]) await p.stop(true);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
