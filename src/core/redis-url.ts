/**
 * `REDIS_URL` and `PROMPTQ_REDIS_MODE`: what they may say, parsed once (store/connection.ts turns
 * them into a client). Forms: `redis[s]://[user[:pass]@]host[:port][,host[:port]…][/db]`.
 */

/** How promptq reaches Redis. */
export type RedisMode = 'single' | 'cluster' | 'sentinel';
export const redisModes: readonly RedisMode[] = ['single', 'cluster', 'sentinel'];

export interface RedisEndpoint {
  host: string;
  port: number;
}

/** A parsed `REDIS_URL`: one host (single) or several (cluster seeds, sentinels). */
export interface RedisAddress {
  tls: boolean;
  username: string | undefined;
  password: string | undefined;
  /** Database number (`/N`); single and sentinel only. @defaultValue `0` */
  db: number;
  hosts: RedisEndpoint[];
}

/** Where and how to connect: the three settings `PROMPTQ_REDIS_MODE`, `REDIS_URL`, `PROMPTQ_REDIS_SENTINEL_NAME`. */
export interface RedisTopology {
  /** @defaultValue `single` */
  mode: RedisMode;
  url: string;
  /** The master's name (sentinel mode only). */
  sentinelName?: string | undefined;
}

/** A `REDIS_URL` that does not parse; the message says what is expected. */
export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

// `?…` options are left to ioredis (single mode hands it the URL as it is).
const urlPattern = /^(rediss?):\/\/(?:([^@/]*)@)?([^/?#@]+)(?:\/(\d*))?\/?(?:\?[^#]*)?$/;

function endpoint(part: string, defaultPort: number): RedisEndpoint {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(part);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || port < 1 || port > 65535) throw new RedisUrlError(`"${part}" is not host:port`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * Parse `redis[s]://[user[:pass]@]host[:port][,host[:port]…][/db]`. Several hosts are allowed only
 * where the mode takes several (checked by the config).
 */
export function parseRedisUrl(url: string, defaultPort = 6379): RedisAddress {
  const m = urlPattern.exec(url.trim());
  if (!m) throw new RedisUrlError('expected redis://[user:pass@]host:port[,host:port…][/db] or rediss://…');
  const [, scheme, auth, hostList, db] = m;
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined && auth !== '') {
    const colon = auth.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon));
    username = user === '' ? undefined : user;
    password = colon < 0 ? undefined : decodeURIComponent(auth.slice(colon + 1));
  }
  return {
    tls: scheme === 'rediss',
    username,
    password,
    db: db === undefined || db === '' ? 0 : Number(db),
    hosts: hostList!.split(',').map((h) => endpoint(h.trim(), defaultPort)),
  };
}
