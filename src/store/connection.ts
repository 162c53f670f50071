/**
 * The one way promptq connects to Redis, whatever the topology (`PROMPTQ_REDIS_MODE`):
 *
 * - `single`: one endpoint, `redis://[user:pass@]host:port[/db]` (today's behaviour).
 * - `cluster`: Redis Cluster; `REDIS_URL` names one or more seed nodes
 *   (`redis://[user:pass@]host:port,host:port`), the rest of the topology is discovered. Keys are
 *   hash-tagged (store/keys.ts) so that each queue's keys, and each limiter group's, share a slot.
 * - `sentinel`: `REDIS_URL` names the sentinels and `PROMPTQ_REDIS_SENTINEL_NAME` the master; the
 *   client asks the sentinels for the master again after a failover.
 *
 * `rediss://` turns TLS on; the URL's user and password are those of the data nodes (not the
 * sentinels). Every component — API, workers, backfill, dashboard, report, Bull Board, /metrics, the
 * CLI — connects through {@link createConnection} and names its keys with one `Keyspace` (keys.ts).
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '../core/errors.js';
import { parseRedisUrl, type RedisMode, type RedisTopology } from '../core/redis-url.js';

/** A connection BullMQ and promptq's scripts both take: one node (single, sentinel) or a cluster. */
export type RedisConnection = Redis | Cluster;
export { parseRedisUrl, type RedisMode, type RedisTopology };

/** Options for {@link createConnection}. */
export interface ConnectionOptions {
  /**
   * Retries of one command while reconnecting; `null` waits for Redis however long (BullMQ workers
   * need this). @defaultValue `null`
   */
  maxRetriesPerRequest?: number | null;
  /** Connect on the first command or `connect()`. @defaultValue `false` */
  lazyConnect?: boolean;
  /** Give up reconnecting (a one-off reachability check: one try). @defaultValue `false` */
  noRetry?: boolean;
  /** Milliseconds for the TCP connect. @defaultValue ioredis's `10000` */
  connectTimeout?: number;
}

/** A client for the topology: `Redis` (single, sentinel) or `Cluster`. */
export function createConnection(topology: RedisTopology, options: ConnectionOptions = {}): RedisConnection {
  const mode = topology.mode;
  const common: RedisOptions = {
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? null : options.maxRetriesPerRequest,
    ...(options.lazyConnect ? { lazyConnect: true } : {}),
    ...(options.connectTimeout !== undefined ? { connectTimeout: options.connectTimeout } : {}),
    // Reconnect soon after a failover (ioredis's default waits up to 2 s between tries).
    retryStrategy: options.noRetry ? () => null : (times: number) => Math.min(times * 50, 500),
  };
  // One endpoint: ioredis reads the URL itself (credentials, TLS, /db and `?` options), as always.
  if (mode === 'single') return new Redis(topology.url, common);
  const address = parseRedisUrl(topology.url, mode === 'sentinel' ? 26379 : 6379);
  const node: RedisOptions = {
    ...common,
    ...(address.username !== undefined ? { username: address.username } : {}),
    ...(address.password !== undefined ? { password: address.password } : {}),
    ...(address.tls ? { tls: {} } : {}),
  };
  if (mode === 'sentinel') {
    if (topology.sentinelName === undefined) {
      throw new ConfigError(
        'redis.sentinelName',
        'required with PROMPTQ_REDIS_MODE=sentinel (the master name)',
      );
    }
    return new Redis({
      ...node,
      sentinels: address.hosts,
      name: topology.sentinelName,
      db: address.db,
      ...(address.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      ...(options.noRetry ? { sentinelRetryStrategy: () => null } : {}),
      // Follow a promotion at once (the sentinels' +switch-master), and never keep writing to a
      // demoted master: a READONLY answer reconnects to the current one and resends the command.
      failoverDetector: true,
      reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
    });
  }
  const cluster: ClusterOptions = {
    redisOptions: node,
    // Wait out a failover (the cluster takes node-timeout + election) instead of failing commands.
    retryDelayOnClusterDown: 300,
    retryDelayOnFailover: 200,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: 2000,
    ...(options.lazyConnect ? { lazyConnect: true } : {}),
    ...(options.noRetry ? { clusterRetryStrategy: () => null } : {}),
  };
  return new Cluster(address.hosts, cluster);
}

/** `host:port,…` of a topology without credentials, for messages. */
export function describeTopology(t: RedisTopology): string {
  try {
    const a = parseRedisUrl(t.url, t.mode === 'sentinel' ? 26379 : 6379);
    const hosts = a.hosts.map((h) =>
      h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`,
    );
    const what = t.mode === 'single' ? 'Redis' : t.mode === 'cluster' ? 'Redis Cluster' : 'Redis Sentinel';
    const master = t.mode === 'sentinel' ? ` (master "${t.sentinelName}")` : '';
    return `${what} at ${a.tls ? 'rediss' : 'redis'}://${hosts.join(',')}${master}`;
  } catch {
    return 'the configured REDIS_URL';
  }
}

/**
 * Resolve once the connection answers a command (on a cluster: once the slots are known and a
 * node answers); reject after `timeoutMs`.
 */
export async function waitUntilReachable(connection: RedisConnection, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        if (connection.status === 'wait') await connection.connect();
        if (connection instanceof Cluster) {
          // CLUSTER INFO from any node: `cluster_state:ok` means every slot is served.
          const info = String(await connection.cluster('INFO'));
          if (!/cluster_state:ok/.test(info)) throw new Error('cluster_state is not ok');
        } else {
          await connection.ping();
        }
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A connection for the topology that answered within `timeoutMs`, or a {@link ConfigError} naming
 * REDIS_URL (exit 2). `hint` ends the message (e.g. "is promptq start running?").
 */
export async function connectOrFail(
  topology: RedisTopology,
  options: ConnectionOptions & { timeoutMs?: number; hint?: string } = {},
): Promise<RedisConnection> {
  const connection = createConnection(topology, options);
  connection.on('error', () => {});
  try {
    await waitUntilReachable(connection, options.timeoutMs ?? 10_000);
    return connection;
  } catch (err) {
    connection.disconnect();
    // ioredis' own words for "nothing answered" (its maxRetriesPerRequest error) say the same.
    const e = err as Error;
    const why = e.message === 'timeout' || e.name === 'MaxRetriesPerRequestError' ? 'no answer' : e.message;
    throw new ConfigError(
      'REDIS_URL',
      `cannot reach ${describeTopology(topology)}: ${why}${options.hint ? ` (${options.hint})` : ''}`,
    );
  }
}
