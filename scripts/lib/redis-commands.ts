/**
 * Counting what Redis executes: `INFO commandstats` deltas (every command, those run inside Lua
 * scripts included), and a MONITOR-based profile that names each EVALSHA by its script (promptq's
 * `src/store/lua/*.lua` and BullMQ's own scripts, matched by SHA-1) and charges the commands a script
 * ran to that script. Used by `scripts/sizing.ts` and by the command-budget test.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';

/** `INFO` text → field → value. */
export function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** Command → calls so far, from `INFO commandstats` (lower-case names, `cmdstat_` dropped). */
export function parseCommandStats(text: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const [k, v] of parseInfo(text)) {
    const c = /calls=(\d+)/.exec(v);
    if (k.startsWith('cmdstat_') && c) calls.set(k.slice(8), Number(c[1]));
  }
  return calls;
}

/** Commands that observe Redis rather than serve promptq: left out of every count. */
export const observerCommands = new Set(['info', 'config', 'cluster', 'ping', 'monitor', 'client', 'hello']);

/** after − before, observer commands left out, largest first. */
export function commandDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Array<readonly [string, number]> {
  return [...after]
    .map(([cmd, c]) => [cmd, c - (before.get(cmd) ?? 0)] as const)
    .filter(([cmd, c]) => c > 0 && !observerCommands.has(cmd))
    .sort((a, b) => b[1] - a[1]);
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

/** SHA-1 → script name, for promptq's Lua files and BullMQ's scripts. */
export function knownScripts(): Map<string, string> {
  const names = new Map<string, string>();
  const luaDir = new URL('../../src/store/lua/', import.meta.url);
  for (const f of readdirSync(luaDir)) {
    if (f.endsWith('.lua')) names.set(sha1(readFileSync(new URL(f, luaDir), 'utf8')), `promptq:${f}`);
  }
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('bullmq')), 'scripts');
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.js') || f === 'index.js') continue;
    const mod = require(join(dir, f)) as Record<string, { name?: string; content?: string }>;
    for (const v of Object.values(mod)) {
      if (v?.content && v.name) names.set(sha1(v.content), `bullmq:${v.name}`);
    }
  }
  return names;
}

/** Per source (a script's name, or `direct` for commands a client sent itself): command → calls. */
export type Profile = Map<string, Map<string, number>>;

/**
 * Watch a redis-server with MONITOR until `stop()`: each EVALSHA/EVAL counted under its script's
 * name, and the commands a script ran (MONITOR lists them right after it, from source `lua`)
 * charged to that script. MONITOR slows Redis down: use it to see where commands go, not to time.
 */
export async function monitorProfile(url: string): Promise<{ stop: () => Promise<Profile> }> {
  const scripts = knownScripts();
  const profile: Profile = new Map();
  const bump = (source: string, cmd: string) => {
    let m = profile.get(source);
    if (!m) {
      m = new Map();
      profile.set(source, m);
    }
    m.set(cmd, (m.get(cmd) ?? 0) + 1);
  };
  let current = 'direct';
  const client = new Redis(url, { lazyConnect: true });
  const monitor = await client.monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const cmd = String(args[0]).toLowerCase();
    if (source === 'lua') {
      bump(current, cmd);
      return;
    }
    if (observerCommands.has(cmd)) return;
    if (cmd === 'evalsha' || cmd === 'eval') {
      const sha = cmd === 'eval' ? sha1(String(args[1])) : String(args[1]);
      current = scripts.get(sha) ?? `script:${sha.slice(0, 8)}`;
      bump(current, 'evalsha');
      return;
    }
    current = 'direct';
    bump('direct', cmd);
  });
  return {
    stop: async () => {
      monitor.disconnect();
      client.disconnect();
      return profile;
    },
  };
}
