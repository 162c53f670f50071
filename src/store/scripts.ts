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

/** A line `--- @include "name"`: replaced by `lua/include/name.lua` when the script is loaded. */
const includeLine = /^--- @include "([a-z]+(?:-[a-z]+)*)"[ \t]*$/gm;

/**
 * The source of a Lua file (read once), its includes resolved: each `--- @include "name"` line is
 * replaced by the file `include/name.lua` (itself resolved), each file at most once per script —
 * as bullmq does for its commands, so code shared by scripts (the limiter's header learning) lives
 * in one file.
 */
export function luaSource(file: string): string {
  let src = sources.get(file);
  if (src === undefined) {
    src = resolveIncludes(readFileSync(new URL(file, luaDir), 'utf8'), file);
    sources.set(file, src);
  }
  return src;
}

/** `src` with its `--- @include` lines resolved (`from` names it in errors). */
export function resolveIncludes(src: string, from: string): string {
  return withIncludes(src, new Set(), from);
}

function withIncludes(src: string, seen: Set<string>, from: string): string {
  return src.replace(includeLine, (_line, name: string) => {
    if (seen.has(name)) return `-- (${name} included above)`;
    seen.add(name);
    let inner: string;
    try {
      inner = readFileSync(new URL(`include/${name}.lua`, luaDir), 'utf8');
    } catch {
      throw new Error(`${from}: no include/${name}.lua to include`);
    }
    return `-- include/${name}.lua\n${withIncludes(inner, seen, name)}`;
  });
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

/**
 * A script with a fixed set of keys whose arguments are one JSON object (ARGV[1], decoded by the
 * script with `cjson.decode`): named fields instead of positional ARGV, nested where that reads
 * better. `A` is the object's type; the file's header lists its fields.
 */
export function jsonScript<const K extends readonly string[], A extends object, R>(
  file: string,
  keys: K,
  decode: (reply: unknown) => R,
): JsonScript<K, A, R> {
  const inner = script(file, keys, ['args'], decode);
  const run = (redis: Redis, k: Named<K, string>, args: A) => inner(redis, k, { args: JSON.stringify(args) });
  return Object.assign(run, { file });
}

/** A {@link jsonScript}: named KEYS, and its arguments as one object. */
export interface JsonScript<K extends readonly string[], A extends object, R> {
  readonly file: string;
  (redis: Redis, keys: Named<K, string>, args: A): Promise<R>;
}

/** A script whose number of keys depends on the call (`name-N.lua`): positional, wrapped by its module. */
export function variadicScript<R>(
  file: string,
  decode: (reply: unknown) => R,
): (redis: Redis, keys: readonly string[], argv: readonly Arg[]) => Promise<R> {
  if (keyCount(file) !== undefined) throw new Error(`${file}: a variadic script's file name ends in -N.lua`);
  return async (redis, keys, argv) => decode(await command(redis, file)(keys.length, ...keys, ...argv));
}
