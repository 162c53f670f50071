/**
 * The rollups' Redis side: where a finished job's increments go and how a range is read back. What
 * the fields mean is rollup-format.ts; the keys are the queue's (keys.ts), so one slot when tagged.
 */
import type { RedisConnection as Redis } from './connection.js';
import type { QueueKeys } from './keys.js';
import {
  type DayCounter,
  decodeDay,
  decodeMinute,
  encodeDay,
  encodeMinute,
  type MinuteIncrement,
  type MinuteRollup,
  type SlowCall,
  slowestKept,
} from './rollup-format.js';

export interface RollupRetention {
  /** Per-minute rollups and slowest-call sets. */
  minuteSeconds: number;
  /** Per-day rollups. */
  daySeconds: number;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export class RollupStore {
  readonly #redis: Redis;
  readonly #keys: QueueKeys;

  constructor(redis: Redis, keys: QueueKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /**
   * Add one finished job (finished at `finishedMs`): its minute's counters, its day's, and the
   * hour's slowest set (capped at {@link slowestKept}). One pipelined round trip.
   */
  async add(
    finishedMs: number,
    minute: MinuteIncrement,
    costMicro: number,
    slow: SlowCall,
    retention: RollupRetention,
  ): Promise<void> {
    const epochMinute = Math.floor(finishedMs / 60_000);
    const p = this.#redis.pipeline();
    const mk = this.#keys.rollupMinute(epochMinute);
    for (const [f, by] of encodeMinute(minute)) p.hincrby(mk, f, by);
    p.expire(mk, retention.minuteSeconds);
    const dk = this.#keys.rollupDay(utcDay(finishedMs));
    for (const [f, by] of encodeDay(minute.tenant, costMicro)) p.hincrby(dk, f, by);
    p.expire(dk, retention.daySeconds);
    const sk = this.#keys.slowest(Math.floor(epochMinute / 60));
    p.zadd(sk, slow.total_ms, JSON.stringify(slow));
    p.zremrangebyrank(sk, 0, -(slowestKept + 1));
    p.expire(sk, retention.minuteSeconds);
    const results = await p.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  /** The minutes `first` … `first + count - 1` (epoch minutes), in order. */
  async minutes(first: number, count: number): Promise<MinuteRollup[]> {
    const keys = Array.from({ length: count }, (_, i) => this.#keys.rollupMinute(first + i));
    return (await this.#hgetallMany(keys)).map(decodeMinute);
  }

  /** Per-tenant counters of each UTC day (`YYYY-MM-DD`). */
  async days(days: readonly string[]): Promise<Array<Record<string, Record<DayCounter, number>>>> {
    return (await this.#hgetallMany(days.map((d) => this.#keys.rollupDay(d)))).map(decodeDay);
  }

  /** The slowest calls kept for the hours `firstHour` … `lastHour` (epoch hours). */
  async slowest(firstHour: number, lastHour: number): Promise<SlowCall[]> {
    const p = this.#redis.pipeline();
    for (let h = firstHour; h <= lastHour; h++) p.zrevrange(this.#keys.slowest(h), 0, -1);
    const calls: SlowCall[] = [];
    for (const [err, members] of (await p.exec()) ?? []) {
      if (err) throw err;
      for (const m of members as string[]) calls.push(JSON.parse(m) as SlowCall);
    }
    return calls;
  }

  async #hgetallMany(keys: string[]): Promise<Array<Record<string, string>>> {
    const p = this.#redis.pipeline();
    for (const k of keys) p.hgetall(k);
    const res = (await p.exec()) ?? [];
    return res.map(([err, v]) => {
      if (err) throw err;
      return (v ?? {}) as Record<string, string>;
    });
  }
}
