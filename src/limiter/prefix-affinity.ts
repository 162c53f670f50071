/**
 * Cache affinity across worker processes: which account of a pool holds a cacheable prompt
 * prefix's cache. Caches belong to an organization or workspace, so a prefix spread over accounts
 * pays the cache write on each; every process asks Redis which account the prefix is pinned to
 * (one key per model and prefix digest, `Keyspace.prefixAffinity`, changed by
 * `prefix-affinity-1.lua`). The key holds the account's name only, never a credential, and the
 * prefix's digest, never its text; it expires after the cache lifetime without an admitted call.
 */
import type { RedisConnection as Redis } from '../store/connection.js';
import type { Keyspace } from '../store/keys.js';
import { script } from '../store/scripts.js';

const affinity = script(
  'prefix-affinity-1.lua',
  ['prefix'],
  ['op', 'account', 'ms', 'from'],
  (reply) => reply as [string, number] | number,
);

/** A prefix's pin: the account holding it, and whether this claim just made the pin. */
export interface Pin {
  account: string;
  created: boolean;
}

/** What the router needs of the shared pins (an interface, so the router's logic stays Redis-free). */
export interface PrefixAffinityStore {
  /** The account the prefix is pinned to; `candidate` when none was (pinned now). */
  claim(prefix: string, candidate: string): Promise<Pin>;
  /**
   * A call with the prefix was admitted on `account`: the pin is `account`'s for another cache
   * lifetime when it was free, or `account`'s, or `from`'s (a pin just made that had no room).
   */
  touch(prefix: string, account: string, from?: string): void;
}

export class PrefixAffinity implements PrefixAffinityStore {
  readonly #redis: Redis;
  readonly #keys: Pick<Keyspace, 'prefixAffinity'>;
  readonly #ttlMs: () => number;

  /** `ttlMs`: the cache lifetime (`limiter.tuning.cacheTtlMs`). */
  constructor(redis: Redis, keys: Pick<Keyspace, 'prefixAffinity'>, ttlMs: () => number) {
    this.#redis = redis;
    this.#keys = keys;
    this.#ttlMs = ttlMs;
  }

  async claim(prefix: string, candidate: string): Promise<Pin> {
    const [account, created] = (await affinity(
      this.#redis,
      { prefix: this.#keys.prefixAffinity(prefix) },
      { op: 'claim', account: candidate, ms: this.#ttlMs(), from: '' },
    )) as [string, number];
    return { account, created: created === 1 };
  }

  /** Off the call's path: a lost touch costs at most one more cache write, on another account. */
  touch(prefix: string, account: string, from = ''): void {
    affinity(
      this.#redis,
      { prefix: this.#keys.prefixAffinity(prefix) },
      { op: 'touch', account, ms: this.#ttlMs(), from },
    ).catch(() => {});
  }
}
