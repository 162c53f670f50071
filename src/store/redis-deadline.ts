/**
 * Bounded waits for Redis. promptq's connections queue commands while Redis is away (a Sentinel or
 * Cluster failover, a restart), so that workers ride through it; a request from a client must not
 * wait forever the same way. {@link withinRedisDeadline} waits for the connection to be ready (the
 * new primary, after a failover) and for the work to finish, both within one deadline; past it, a
 * {@link RedisUnavailableError} (HTTP 503 with `Retry-After`). Nothing is sent before the connection
 * is ready, so a request refused while Redis was away leaves nothing queued to run later.
 *
 * Redis refusing a command outright (out of memory, a read-only replica, loading, a cluster slot
 * down) is {@link redisRefusal}: also a 503, for the client to try again.
 */
import { PromptqError } from '../core/errors.js';
import type { RedisConnection } from './connection.js';

/** Redis did not answer in time, or refused for a reason that passes (OOM, READONLY, LOADING…). */
export class RedisUnavailableError extends PromptqError {
  override readonly name = 'RedisUnavailableError';
  constructor(
    message: string,
    /** When to try again, in whole seconds (the `Retry-After` header). */
    readonly retryAfterSeconds: number,
    cause?: unknown,
  ) {
    super(message, { code: 'redis_unavailable', cause });
  }
}

/** The error prefixes Redis answers when it refuses a command for a passing reason. */
const passing = /(?:^|[\s-])(OOM|READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|BUSY)\b/;

/**
 * The Redis error code when `err` is Redis refusing for a reason that passes (`OOM`, `READONLY`,
 * `LOADING`, `MASTERDOWN`, `CLUSTERDOWN`, `TRYAGAIN`, `NOREPLICAS`, `BUSY`), also from inside a
 * script; `undefined` for anything else.
 */
export function redisRefusal(err: unknown): string | undefined {
  if (err instanceof RedisUnavailableError) return 'unavailable';
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message !== 'string' || (err as { name?: unknown }).name !== 'ReplyError') return undefined;
  return passing.exec(message)?.[1];
}

/**
 * The connection's next `ready`: one listener per connection, however many requests wait on it (a
 * listener per waiting request would pass Node's limit of 10 in an outage under load, and Node
 * would print a non-JSON warning to stderr).
 */
const nextReady = new WeakMap<RedisConnection, Promise<void>>();

function readyOnce(connection: RedisConnection): Promise<void> {
  let ready = nextReady.get(connection);
  if (ready === undefined) {
    ready = new Promise<void>((resolve) => {
      connection.once('ready', () => {
        nextReady.delete(connection);
        resolve();
      });
    });
    nextReady.set(connection, ready);
  }
  return ready;
}

/** Resolves once the connection is ready; rejects with {@link RedisUnavailableError} after `ms`. */
export function whenReady(connection: RedisConnection, ms: number): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(ms)), ms);
  });
  return Promise.race([readyOnce(connection), late]).finally(() => clearTimeout(timer));
}

/**
 * `work()` once the connection is ready, all within `ms`; past it (or when Redis refuses for a
 * passing reason) a {@link RedisUnavailableError}. Work already sent when the deadline passes may
 * still complete later (an enqueue: retry it with the same id, which is idempotent).
 */
export async function withinRedisDeadline<T>(
  connection: RedisConnection,
  ms: number,
  work: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + ms;
  await whenReady(connection, ms);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(unavailable(ms)), Math.max(0, deadline - Date.now()));
      }),
    ]);
  } catch (err) {
    const code = redisRefusal(err);
    if (code === undefined || err instanceof RedisUnavailableError) throw err;
    throw new RedisUnavailableError(`Redis refused the write (${code}); try again`, 1, err);
  } finally {
    clearTimeout(timer);
  }
}

function unavailable(ms: number): RedisUnavailableError {
  return new RedisUnavailableError(
    `Redis did not answer within ${ms} ms (a failover or restart?); try again`,
    2,
  );
}
