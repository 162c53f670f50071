/**
 * One Redis reader per process for every open event stream (SSE): a single connection runs one
 * blocking `XREAD` over all the keys followed at the moment, and hands each entry to the streams
 * that follow its key (fan-out in memory). A stream costs no connection of its own; the number of
 * streams is bounded by the routes' slots (`PROMPTQ_MAX_WAITERS`), a read by `COUNT` per key. A
 * stream that joins is read from its own position at the next read (at most {@link blockMs}
 * later); the reader's connection is closed when no stream is left.
 */
import type { RedisConnection } from '../../store/connection.js';

export type Entry = [id: string, fields: string[]];

/** The longest one `XREAD` blocks: how late a joining stream's first read may be. */
export const blockMs = 250;

interface Follower {
  key: string;
  /** The last entry id it has been given. */
  last: string;
  untilMs: number;
  /** Give it an entry; `true`: it has what it waited for and is done. */
  take(entry: Entry): boolean;
  isOpen(): boolean;
  settle(err?: unknown): void;
}

/** `a` before `b`, as stream ids (`<ms>-<seq>`). */
function before(a: string, b: string): boolean {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  return am.length !== bm.length ? am.length < bm.length : am !== bm ? am < bm : BigInt(as) < BigInt(bs);
}

export class SharedStreamReader {
  readonly #redis: RedisConnection;
  readonly #followers = new Set<Follower>();
  #reader: RedisConnection | undefined;
  #running = false;

  constructor(redis: RedisConnection) {
    this.#redis = redis;
  }

  /** Streams followed now. */
  get size(): number {
    return this.#followers.size;
  }

  /**
   * Give `take` the key's entries after `from` as they come, until it says it is done, `isOpen`
   * turns false or `untilMs` passes. Rejects when Redis fails while the stream is open.
   */
  follow(
    key: string,
    from: string,
    untilMs: number,
    take: (entry: Entry) => boolean,
    isOpen: () => boolean,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const f: Follower = {
        key,
        last: from,
        untilMs,
        take,
        isOpen,
        settle: (err) => {
          this.#followers.delete(f);
          if (err === undefined || !isOpen()) resolve();
          else reject(err);
        },
      };
      this.#followers.add(f);
      if (!this.#running) void this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#prune() > 0) await this.#readOnce();
    } catch (err) {
      for (const f of [...this.#followers]) f.settle(err);
      this.#reader?.disconnect();
      this.#reader = undefined;
    } finally {
      this.#running = false;
      if (this.#followers.size === 0) {
        this.#reader?.disconnect();
        this.#reader = undefined;
      } else void this.#run();
    }
  }

  /** Settle the followers that are gone or out of time; how many are left. */
  #prune(): number {
    const now = Date.now();
    for (const f of [...this.#followers]) if (!f.isOpen() || now >= f.untilMs) f.settle();
    return this.#followers.size;
  }

  async #readOnce(): Promise<void> {
    // Each key from the earliest position one of its followers is at.
    const from = new Map<string, string>();
    for (const f of this.#followers) {
      const at = from.get(f.key);
      if (at === undefined || before(f.last, at)) from.set(f.key, f.last);
    }
    if (this.#reader === undefined) {
      this.#reader = this.#redis.duplicate();
      this.#reader.on('error', () => {});
    }
    const keys = [...from.keys()];
    const got = (await this.#reader.xread(
      'COUNT',
      100,
      'BLOCK',
      blockMs,
      'STREAMS',
      ...keys,
      ...keys.map((k) => from.get(k)!),
    )) as Array<[string, Entry[]]> | null;
    for (const [key, entries] of got ?? []) {
      for (const f of [...this.#followers]) {
        if (f.key !== key) continue;
        for (const entry of entries) {
          if (!before(f.last, entry[0])) continue;
          f.last = entry[0];
          if (f.take(entry)) {
            f.settle();
            break;
          }
        }
      }
    }
  }
}

const readers = new WeakMap<RedisConnection, SharedStreamReader>();

/** The process's reader on this connection's Redis. */
export function sharedReader(redis: RedisConnection): SharedStreamReader {
  let reader = readers.get(redis);
  if (reader === undefined) {
    reader = new SharedStreamReader(redis);
    readers.set(redis, reader);
  }
  return reader;
}
