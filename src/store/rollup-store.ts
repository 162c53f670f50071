/**
 * The rollups' Redis side: where a finished job's increments go and how a range is read back. What
 * the fields mean is rollup-format.ts; the keys are the queue's (keys.ts), so one slot when tagged.
 */
import type { RedisConnection as Redis } from './connection.js';
import type { Keyspace } from './keys.js';
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
import { variadicScript } from './scripts.js';

const addScript = variadicScript('rollup-add-N.lua', Number);

export interface RollupRetention {
  /** Per-minute rollups and slowest-call sets. */
  minuteSeconds: number;
  /** Per-day rollups. */
  daySeconds: number;
}

/**
 * One finished job's part of the rollups, or one API attempt's (no `slow`: it adds to its minute
 * only, not to the day's jobs or the slowest calls).
 */
export interface RollupEntry {
  finishedMs: number;
  minute: MinuteIncrement;
  costMicro: number;
  slow?: SlowCall;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export class RollupStore {
  readonly #redis: Redis;
  readonly #keys: Keyspace;

  constructor(redis: Redis, keys: Keyspace) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /**
   * Add several finished jobs in one command (lua/rollup-add-N.lua), their increments summed
   * first: one HINCRBY per field and key, one EXPIRE per key, one ZADD (of the batch's slowest,
   * then a trim) per slowest set, however many jobs.
   */
  async addMany(jobs: readonly RollupEntry[], retention: RollupRetention): Promise<void> {
    if (jobs.length === 0) return;
    const sums = new Map<string, { seconds: number; fields: Map<string, number> }>();
    const slowest = new Map<string, SlowCall[]>();
    const bump = (key: string, seconds: number, increments: Array<[string, number]>) => {
      let k = sums.get(key);
      if (!k) {
        k = { seconds, fields: new Map() };
        sums.set(key, k);
      }
      for (const [f, by] of increments) k.fields.set(f, (k.fields.get(f) ?? 0) + by);
    };
    for (const j of jobs) {
      const epochMinute = Math.floor(j.finishedMs / 60_000);
      bump(this.#keys.rollupMinute(epochMinute), retention.minuteSeconds, encodeMinute(j.minute));
      if (j.slow === undefined) continue;
      bump(
        this.#keys.rollupDay(utcDay(j.finishedMs)),
        retention.daySeconds,
        encodeDay(j.minute.tenant, j.costMicro),
      );
      const sk = this.#keys.slowest(Math.floor(epochMinute / 60));
      const calls = slowest.get(sk) ?? [];
      calls.push(j.slow);
      slowest.set(sk, calls);
    }
    const keys: string[] = [];
    const argv: Array<string | number> = [sums.size, slowestKept, retention.minuteSeconds];
    for (const [key, { seconds, fields }] of sums) {
      const nonZero = [...fields].filter(([, by]) => by !== 0);
      keys.push(key);
      argv.push(seconds, nonZero.length);
      for (const [f, by] of nonZero) argv.push(f, by);
    }
    for (const [sk, calls] of slowest) {
      // Only the batch's slowest can be among the set's slowest: the rest are not sent.
      const kept = calls.sort((a, b) => b.total_ms - a.total_ms).slice(0, slowestKept);
      keys.push(sk);
      argv.push(kept.length);
      for (const c of kept) argv.push(c.total_ms, JSON.stringify(c));
    }
    await addScript(this.#redis, keys, argv);
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
