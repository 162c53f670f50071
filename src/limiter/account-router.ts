/**
 * Several accounts serving one queue: each call goes to an eligible account with room now. An
 * account is eligible when the job allows it (`account`: a name or a list) and it serves the model
 * (its provider maps the model id; fast mode for a `speed: "fast"` job). Each account has its own limiter (its own groups, its own
 * allowance), so together they give their sum: the accounts are asked in turn (starting from the
 * next one each call), each may hand the call back (a deferral) when it has no room soon, and the
 * call goes to the first that admits it. Only when every eligible account defers is the job handed
 * back, until the earliest of them.
 *
 * A shared cacheable prefix stays on one account while the cache is warm there: caches belong to an
 * organization or workspace, so spreading a prefix over accounts would pay the cache write on each.
 * A job that opted in (`account_fallback`) avoids the account that just failed it (overloaded, a
 * server error, no answer), when another is eligible.
 */
import { modelGroup } from '../core/models.js';
import type { Provider } from '../providers/provider.js';
import type { RateLimiter } from './limiter.js';
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
  /** How long a prefix stays with its account after its last call (the cache lifetime). */
  cacheTtlMs: number;
  /** The most prefixes remembered. @defaultValue 10000 */
  maxPrefixes?: number;
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
  /** `group:prefix` → the account holding its cache, and until when (oldest first). */
  readonly #sticky = new Map<string, { account: string; until: number }>();
  /** `group:prefix` → settles once the call choosing its account has one (or none). */
  readonly #choosing = new Map<string, Promise<void>>();
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
    const prefixKey =
      plan.cachePrefixKey === undefined ? undefined : `${modelGroup(plan.model)}:${plan.cachePrefixKey}`;
    if (prefixKey === undefined) return this.#ask(this.#rotate(eligible), plan, signal, opts);
    // A call choosing an account for this prefix is out: its choice is this call's too.
    for (let c = this.#choosing.get(prefixKey); c !== undefined; c = this.#choosing.get(prefixKey)) await c;
    const warm = this.#warm(prefixKey, eligible);
    if (warm) return this.#ask([warm], plan, signal, opts, prefixKey);
    let chosen!: () => void;
    this.#choosing.set(prefixKey, new Promise<void>((resolve) => (chosen = resolve)));
    try {
      return await this.#ask(this.#rotate(eligible), plan, signal, opts, prefixKey);
    } finally {
      this.#choosing.delete(prefixKey);
      chosen();
    }
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
    prefixKey?: string,
  ): Promise<RoutedPermit | Deferral> {
    let earliest: Deferral | undefined;
    for (const [i, account] of order.entries()) {
      // The last one asked waits as the caller asked; the others hand back at once when full.
      const mayDefer = opts.mayDefer === true || i < order.length - 1;
      const answer = await account.limiter.acquire(plan, signal, { mayDefer });
      if (!('deferred' in answer)) {
        if (prefixKey !== undefined) this.#stick(prefixKey, accountNameOf(account.provider));
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

  /** The account holding the prefix's cache, while warm and still eligible. */
  #warm(key: string, eligible: readonly PooledAccount[]): PooledAccount | undefined {
    const held = this.#sticky.get(key);
    if (held === undefined || held.until <= Date.now()) return undefined;
    return eligible.find((a) => accountNameOf(a.provider) === held.account);
  }

  #stick(key: string, account: string): void {
    this.#sticky.delete(key);
    this.#sticky.set(key, { account, until: Date.now() + this.#opts.cacheTtlMs });
    if (this.#sticky.size > (this.#opts.maxPrefixes ?? 10_000)) {
      const oldest = this.#sticky.keys().next().value;
      if (oldest !== undefined) this.#sticky.delete(oldest);
    }
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
