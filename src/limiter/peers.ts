/**
 * The worker processes drawing on one account. Each process that asked the account for a permit
 * lately puts itself in a sorted set (member: an id of its own, score: when it last said so), so a
 * process can size its worker slots for its share of the account's calls in flight
 * (worker/concurrency.ts) rather than for the whole account's.
 */
import { randomUUID } from 'node:crypto';
import type { RedisConnection as Redis } from '../store/connection.js';

export class AccountPeers {
  /** This process's member in the set. */
  readonly #id = randomUUID();
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, key: string) {
    this.#redis = redis;
    this.#key = key;
  }

  /**
   * The processes that said they were active within the last `windowMs`, this one among them when
   * `active` (else it takes itself out); at least 1. `now` is the caller's clock, as the limiter's
   * scripts take it.
   */
  async count(windowMs: number, active: boolean, now = Date.now()): Promise<number> {
    const m = this.#redis.multi();
    if (active) m.zadd(this.#key, now, this.#id);
    else m.zrem(this.#key, this.#id);
    m.zremrangebyscore(this.#key, '-inf', `(${now - windowMs}`);
    m.zcard(this.#key);
    m.pexpire(this.#key, 2 * windowMs);
    const replies = await m.exec();
    const card = replies?.[2]?.[1];
    return Math.max(1, typeof card === 'number' ? card : 1);
  }
}
