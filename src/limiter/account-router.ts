/**
 * Several accounts serving one queue: each call goes to an eligible account with room now. An
 * account is eligible when the job allows it (`account`: a name or a list) and it serves the model
 * (its provider maps the model id; fast mode for a `speed: "fast"` job). Each account has its own limiter (its own groups, its own
 * allowance), so together they give their sum: the accounts are asked in turn (starting from the
 * next one each call), each may hand the call back (a deferral) when it has no room soon, and the
 * call goes to the first that admits it. Only when every eligible account defers is the job handed
 * back, until the earliest of them.
 *
 * A shared cacheable prefix stays on one account while the cache is warm there, across processes:
 * caches belong to an organization or workspace, so spreading a prefix over accounts would pay the
 * cache write on each. The first call with a prefix pins it (in Redis, {@link PrefixAffinityStore})
 * to the account first in its turn; every call with the prefix, from any process, then asks that
 * account only, and waits for room there (or is handed back until then) unless that is more than
 * `affinityWaitMs` away (`cacheWriteWaitMs`, 10 s by default: the longest a call waits to save a
 * cache write): then the other accounts are asked, and the one that admits it pays the write. The pin
 * lasts the cache lifetime past the last call admitted on its account. A pin made by the call that
 * found no room moves to the account that served it.
 * A job that opted in (`account_fallback`) avoids the account that just failed it (overloaded, a
 * server error, no answer), when another is eligible.
 */
import type { Provider } from '../providers/provider.js';
import type { RateLimiter } from './limiter.js';
import type { PrefixAffinityStore } from './prefix-affinity.js';
import type { AcquireOptions, CallPlan, Deferral, Permit } from './types.js';

/** One account of the pool: its provider (client) and its limiter. */
export interface PooledAccount {
  readonly provider: Provider;
  readonly limiter: Pick<RateLimiter, 'acquire' | 'requestShare'>;
}

/** Which accounts a call may go to. */
export interface Routing {
  /** The job's `account`: the names allowed; `undefined`: every account. */
  accounts?: readonly string[] | undefined;
  /** An account to avoid when another is eligible (the one that just failed an opted-in job). */
  avoid?: string | undefined;
  /** The job's `speed`: a `fast` one goes only to accounts with fast mode (`Provider.fastMode`). */
  speed?: 'standard' | 'fast' | undefined;
}

/** A permit of one account, and the provider that makes the call. */
export interface RoutedPermit extends Permit {
  readonly provider: Provider;
}

export interface AccountRouterOptions {
  /** Which account holds each cacheable prefix, shared by every process ({@link PrefixAffinity}). */
  affinity: PrefixAffinityStore;
  /**
   * The longest a call waits for room on the account holding its prefix's cache before another
   * account with room serves it (and pays the cache write there): `limiter.tuning.cacheWriteWaitMs`,
   * read at each call.
   */
  affinityWaitMs: () => number;
  /**
   * The provider of a call no account may serve (its stream fails naming the model); `why`, when
   * the accounts map the model but none has fast mode for a `speed: "fast"` call.
   */
  unserved: (model: string, accounts: readonly string[] | undefined, why?: string) => Provider;
}

/** The name an account goes by in routing, records and labels. */
export function accountNameOf(provider: Provider): string {
  return provider.accountName ?? 'default';
}

export class AccountRouter {
  readonly #accounts: readonly PooledAccount[];
  readonly #opts: AccountRouterOptions;
  #next = 0;

  constructor(accounts: readonly PooledAccount[], opts: AccountRouterOptions) {
    if (accounts.length === 0) throw new Error('an account pool needs at least one account');
    this.#accounts = accounts;
    this.#opts = opts;
  }

  get accounts(): readonly PooledAccount[] {
    return this.#accounts;
  }

  /** The accounts that may serve this call, in the order to ask them. */
  eligible(model: string, routing: Routing): PooledAccount[] {
    const allowed = routing.accounts;
    let out = this.#accounts.filter(
      (a) =>
        (allowed === undefined || allowed.includes(accountNameOf(a.provider))) &&
        a.provider.modelId(model) !== undefined &&
        (routing.speed !== 'fast' || a.provider.fastMode !== false),
    );
    if (routing.avoid !== undefined && out.length > 1) {
      out = out.filter((a) => accountNameOf(a.provider) !== routing.avoid);
    }
    return out;
  }

  /**
   * A permit of an eligible account with room now, or a deferral until the earliest one has room.
   * No eligible account: a permit for nothing, whose provider fails the call naming the model.
   */
  async acquire(
    plan: CallPlan,
    routing: Routing,
    signal?: AbortSignal,
    opts: AcquireOptions = {},
  ): Promise<RoutedPermit | Deferral> {
    const eligible = this.eligible(plan.model, routing);
    if (eligible.length === 0) return nothingPermit(this.#unserved(plan.model, routing));
    const order = this.#rotate(eligible);
    // (A pool of one account: nothing to choose, no pin to read. A job that may go to one account
    // of several still pins: its cache is written there.)
    if (plan.cachePrefixKey === undefined || this.#accounts.length === 1) {
      return this.#ask(order, plan, signal, opts);
    }
    const prefix = `${plan.model}:${plan.cachePrefixKey}`;
    // The prefix's account, from every process: pinned to the first in turn when none holds it.
    const pin = await this.#opts.affinity.claim(prefix, accountNameOf((order[0] as PooledAccount).provider));
    const pinned = order.find((a) => accountNameOf(a.provider) === pin.account);
    // Pinned where this job may not go (its `account`, fast mode, a fallback): any other, in turn.
    if (pinned === undefined) return this.#ask(order, plan, signal, opts, { prefix });
    const there = await this.#ask([pinned], plan, signal, { mayDefer: true }, { prefix });
    if (!('deferred' in there)) return there;
    const others = order.filter((a) => a !== pinned);
    if (others.length === 0 || there.untilMs - Date.now() <= this.#opts.affinityWaitMs()) {
      // Room soon enough there: wait for it (or hand the job back until then).
      return opts.mayDefer === true ? there : this.#ask([pinned], plan, signal, opts, { prefix });
    }
    // No room there for longer than a cache write is worth waiting for: another account serves it.
    const from = pin.created ? pin.account : undefined;
    const elsewhere = await this.#ask(others, plan, signal, opts, { prefix, from });
    return 'deferred' in elsewhere && there.untilMs < elsewhere.untilMs ? there : elsewhere;
  }

  /** The provider failing a call no account may serve, saying why when fast mode is the reason. */
  #unserved(model: string, routing: Routing): Provider {
    const onlyFast =
      routing.speed === 'fast' && this.eligible(model, { ...routing, speed: undefined }).length > 0;
    return this.#opts.unserved(
      model,
      routing.accounts,
      onlyFast ? 'speed "fast": none of them has fast mode (Bedrock has not)' : undefined,
    );
  }

  /** Ask the accounts in order: the first permit, or the earliest deferral. */
  async #ask(
    order: readonly PooledAccount[],
    plan: CallPlan,
    signal: AbortSignal | undefined,
    opts: AcquireOptions,
    affinity?: { prefix: string; from?: string | undefined },
  ): Promise<RoutedPermit | Deferral> {
    let earliest: Deferral | undefined;
    for (const [i, account] of order.entries()) {
      // The last one asked waits as the caller asked; the others hand back at once when full.
      const mayDefer = opts.mayDefer === true || i < order.length - 1;
      const answer = await account.limiter.acquire(plan, signal, { mayDefer });
      if (!('deferred' in answer)) {
        if (affinity !== undefined) {
          this.#opts.affinity.touch(affinity.prefix, accountNameOf(account.provider), affinity.from);
        }
        return {
          ...answer,
          provider: account.provider,
          settle: answer.settle,
          observeSignals: answer.observeSignals,
        };
      }
      if (earliest === undefined || answer.untilMs < earliest.untilMs) earliest = answer;
    }
    return earliest as Deferral;
  }

  /** The eligible accounts starting from the next one in turn. */
  #rotate(eligible: readonly PooledAccount[]): PooledAccount[] {
    const start = this.#next++ % eligible.length;
    return [...eligible.slice(start), ...eligible.slice(0, start)];
  }
}

/** A permit that holds nothing: the call fails before it is made. */
function nothingPermit(provider: Provider): RoutedPermit {
  return { provider, observeSignals: () => {}, settle: async () => {} };
}
