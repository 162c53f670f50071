/**
 * What a private redis-server did between two moments (S10, S11): commands executed and CPU used,
 * from `INFO stats`, `INFO commandstats` and `INFO cpu`.
 */
import type { Redis } from 'ioredis';

/** One reading of the counters (all cumulative since the server started). */
export interface RedisCounters {
  /** `total_commands_processed`: every command a client sent (a script call counts once). */
  commands: number;
  /** `commandstats` calls per command name (commands run inside Lua scripts included). */
  calls: Record<string, number>;
  /** `used_cpu_sys + used_cpu_user`, seconds. */
  cpuS: number;
}

/** `key:value` lines of an INFO reply. */
function fields(info: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** Parses the three INFO sections into counters. */
export function parseCounters(stats: string, commandstats: string, cpu: string): RedisCounters {
  const s = fields(stats);
  const c = fields(cpu);
  const calls: Record<string, number> = {};
  for (const [k, v] of fields(commandstats)) {
    const m = /(?:^|,)calls=(\d+)/.exec(v);
    if (k.startsWith('cmdstat_') && m) calls[k.slice('cmdstat_'.length)] = Number(m[1]);
  }
  return {
    commands: Number(s.get('total_commands_processed') ?? Number.NaN),
    calls,
    cpuS: Number(c.get('used_cpu_sys') ?? Number.NaN) + Number(c.get('used_cpu_user') ?? Number.NaN),
  };
}

/** Reads the counters now (three INFO calls; they count as commands themselves). */
export async function readCounters(redis: Redis): Promise<RedisCounters> {
  const [stats, commandstats, cpu] = await Promise.all([
    redis.info('stats'),
    redis.info('commandstats'),
    redis.info('cpu'),
  ]);
  return parseCounters(stats, commandstats, cpu);
}

/** What happened between two readings. */
export interface RedisDelta {
  commands: number;
  /** Calls counted by `commandstats`, Lua-internal calls included. */
  calls: number;
  evalsha: number;
  cpuS: number;
}

export function delta(before: RedisCounters, after: RedisCounters): RedisDelta {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const evals = (r: RedisCounters) => (r.calls.evalsha ?? 0) + (r.calls.eval ?? 0);
  return {
    commands: after.commands - before.commands,
    calls: sum(after.calls) - sum(before.calls),
    evalsha: evals(after) - evals(before),
    cpuS: after.cpuS - before.cpuS,
  };
}
