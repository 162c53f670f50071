/**
 * `whenReady` (store/redis-deadline.ts) while Redis is away, on a real redis-server of the test's
 * own that is stopped and started again: many requests waiting for the connection at once (a
 * failover under load) share one `ready` listener, so Node prints no `MaxListenersExceededWarning`
 * (a non-JSON line on stderr); each is answered when Redis is back, or refused at its deadline.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisUnavailableError, whenReady } from '../../src/store/redis-deadline.js';
import { TestRedis } from '../helpers/redis-server.js';

describe('whenReady while Redis is away', () => {
  let own: TestRedis | undefined;
  let conn: Redis | undefined;
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  afterEach(async () => {
    process.off('warning', onWarning);
    conn?.disconnect();
    await own?.destroy();
  });

  it('50 waiters share one listener (no warning), all answered once Redis is back; a short deadline is a 503', async () => {
    own = new TestRedis();
    await own.start();
    conn = new Redis(own.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
    conn.on('error', () => {});
    await whenReady(conn, 5000);
    const listenersBefore = conn.listenerCount('ready');
    process.on('warning', onWarning);

    await own.stop(true);
    for (let i = 0; i < 100 && conn.status === 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(conn.status).not.toBe('ready');

    const waiting = Array.from({ length: 50 }, () => whenReady(conn!, 20_000));
    // The deadline: a waiter that cannot wait long is refused (a 503 with Retry-After).
    const short = await whenReady(conn, 200).then(
      () => 'ready',
      (err: unknown) => err,
    );
    expect(short).toBeInstanceOf(RedisUnavailableError);
    expect(conn.listenerCount('ready')).toBe(listenersBefore + 1);

    await own.start();
    await Promise.all(waiting);
    expect(conn.status).toBe('ready');
    // Node reports warnings on the next tick: give it one.
    await new Promise((r) => setTimeout(r, 50));
    expect(warnings).toEqual([]);
    expect(conn.listenerCount('ready')).toBe(listenersBefore);
  }, 60_000);
});
