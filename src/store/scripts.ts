/**
 * The one place promptq's Lua scripts are loaded. Each script is a file in `./lua/` named
 * `name-NUMKEYS.lua` (`N` = a variable number of keys), whose header lists its KEYS, ARGV and
 * output. A {@link script} pairs the file with the names of its KEYS and ARGV in header order, so
 * callers pass named fields and the order lives next to the file it must match.
 *
 * Files are read once per process, relative to this module (so from `src/` under tsx/vitest and
 * from `dist/` after `npm run build`, which copies them); each connection defines each command once
 * (ioredis then runs them with EVALSHA).
 */
import { readFileSync } from 'node:fs';
import type { RedisConnection as Redis } from './connection.js';

type Arg = string | number;
type Named<Names extends readonly string[], V> = { readonly [P in Names[number]]: V };

const luaDir = new URL('./lua/', import.meta.url);
/** Connections → the commands defined on them, by file (bound to the connection). */
const defined = new WeakMap<Redis, Map<string, (...args: Arg[]) => Promise<unknown>>>();
const sources = new Map<string, string>();

/** The source of a Lua file (read once). */
export function luaSource(file: string): string {
  let src = sources.get(file);
  if (src === undefined) {
    src = readFileSync(new URL(file, luaDir), 'utf8');
    sources.set(file, src);
  }
  return src;
}

/** `claim-jobs-N.lua` → `promptqClaimJobs`; `limiter-settle-1.lua` → `promptqLimiterSettle`. */
function commandName(file: string): string {
  const base = file.replace(/-(\d+|N)\.lua$/, '');
  return `promptq${base.replace(/(^|-)([a-z])/g, (_, _d: string, c: string) => c.toUpperCase())}`;
}

function keyCount(file: string): number | undefined {
  const m = /-(\d+|N)\.lua$/.exec(file);
  if (!m) throw new Error(`${file}: a script's file name ends in -NUMKEYS.lua`);
  return m[1] === 'N' ? undefined : Number(m[1]);
}

function command(redis: Redis, file: string): (...args: Arg[]) => Promise<unknown> {
  let commands = defined.get(redis);
  if (commands === undefined) {
    commands = new Map();
    defined.set(redis, commands);
  }
  let run = commands.get(file);
  if (run === undefined) {
    const name = commandName(file);
    const numberOfKeys = keyCount(file);
    redis.defineCommand(name, {
      lua: luaSource(file),
      ...(numberOfKeys === undefined ? {} : { numberOfKeys }),
    });
    run = (redis as unknown as Record<string, (...args: Arg[]) => Promise<unknown>>)[name]!.bind(redis);
    commands.set(file, run);
  }
  return run;
}

/** A script with a fixed set of keys, called with named KEYS and ARGV. */
export interface Script<K extends readonly string[], A extends readonly string[], R> {
  readonly file: string;
  (redis: Redis, keys: Named<K, string>, argv: Named<A, Arg>): Promise<R>;
}

/**
 * Declare a script: `keys` and `argv` name the file's KEYS and ARGV in the order of its header;
 * `decode` turns its reply into the wrapper's result. The file name's NUMKEYS must match `keys`.
 */
export function script<const K extends readonly string[], const A extends readonly string[], R>(
  file: string,
  keys: K,
  argv: A,
  decode: (reply: unknown) => R,
): Script<K, A, R> {
  if (keyCount(file) !== keys.length) {
    throw new Error(`${file}: declared with ${keys.length} keys`);
  }
  const run = async (redis: Redis, k: Named<K, string>, a: Named<A, Arg>) =>
    decode(
      await command(redis, file)(...keys.map((n: K[number]) => k[n]), ...argv.map((n: A[number]) => a[n])),
    );
  return Object.assign(run, { file });
}

/** A script whose number of keys depends on the call (`name-N.lua`): positional, wrapped by its module. */
export function variadicScript<R>(
  file: string,
  decode: (reply: unknown) => R,
): (redis: Redis, keys: readonly string[], argv: readonly Arg[]) => Promise<R> {
  if (keyCount(file) !== undefined) throw new Error(`${file}: a variadic script's file name ends in -N.lua`);
  return async (redis, keys, argv) => decode(await command(redis, file)(keys.length, ...keys, ...argv));
}
