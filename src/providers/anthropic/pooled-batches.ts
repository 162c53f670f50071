/**
 * Message Batches over several `anthropic` accounts of the accounts file, as one {@link Batches}:
 * each request goes to the account the job may use that serves its model — the job's `account` (a
 * name or a list) honoured, and the account's `models` — the first such in the file's order, as
 * live routing's eligibility has it. One `create` makes a batch on each account it needs; the
 * batch promptq stores is their composite, `<account>/<id>` joined by `+`, so polling, results and
 * cancelling go to every part on its own account (and a resumed run finds them again). An id of
 * the API's own (`msgbatch_…`, no `/`), as promptq stored before batches were pooled, is the first
 * account's: the one every batch went to then.
 */
import type { JobRequest } from '../../core/job.js';
import type { Batches, BatchInfo, BatchRequest, BatchResult } from '../provider.js';

/** One account of the pool: its name, its Message Batches, whether it serves a model. */
export interface BatchAccount {
  name: string;
  batches: Batches;
  serves(model: string): boolean;
}

/** A request no account may take: its model is served by none the job allows. */
export class UnservedBatchError extends Error {
  override readonly name = 'UnservedBatchError';
}

const partSeparator = '+';
const nameSeparator = '/';

/** The parts of a composite id: `[account, batch id]` each; a plain id is `legacy`'s (the first account). */
function partsOf(id: string, legacy: string): Array<[string, string]> {
  if (!id.includes(nameSeparator)) return [[legacy, id]];
  return id.split(partSeparator).map((part) => {
    const at = part.indexOf(nameSeparator);
    if (at <= 0) throw new Error(`not a pooled batch id: ${JSON.stringify(id)}`);
    return [part.slice(0, at), part.slice(at + 1)];
  });
}

/** The batches of several parts as one: in progress while any is, its counts their sum. */
function merged(id: string, infos: readonly BatchInfo[]): BatchInfo {
  const statuses = new Set(infos.map((i) => i.status));
  const status = statuses.has('in_progress')
    ? 'in_progress'
    : statuses.has('canceling')
      ? 'canceling'
      : 'ended';
  const counts = { processing: 0, succeeded: 0, errored: 0, expired: 0, canceled: 0 };
  for (const info of infos)
    for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] += info.counts[k];
  const createdAt = infos.map((i) => i.createdAt).sort()[0] ?? new Date(0).toISOString();
  const ends = infos.map((i) => i.endedAt);
  const endedAt =
    status === 'ended' && ends.every((e) => e !== null) ? ([...ends].sort().at(-1) ?? null) : null;
  return { id, status, createdAt, endedAt, counts };
}

export class PooledBatches implements Batches {
  readonly limits: { requests: number; bytes: number };
  readonly #accounts: readonly BatchAccount[];

  constructor(accounts: readonly BatchAccount[]) {
    const first = accounts[0];
    if (first === undefined) throw new Error('PooledBatches needs at least one account');
    this.#accounts = accounts;
    // A batch's parts are subsets of it: the tightest account's limits hold for each.
    this.limits = {
      requests: Math.min(...accounts.map((a) => a.batches.limits.requests)),
      bytes: Math.min(...accounts.map((a) => a.batches.limits.bytes)),
    };
  }

  /** The account a job's request goes to: the first the job allows that serves its model. */
  accountFor(request: Pick<JobRequest, 'model' | 'account'>): BatchAccount {
    const allowed = request.account === undefined ? undefined : [request.account].flat();
    const account = this.#accounts.find(
      (a) => (allowed === undefined || allowed.includes(a.name)) && a.serves(request.model),
    );
    if (account === undefined) {
      const names = (allowed ?? this.#accounts.map((a) => a.name)).join(', ');
      throw new UnservedBatchError(
        `no anthropic account serves model "${request.model}" for Message Batches (accounts: ${names})`,
      );
    }
    return account;
  }

  requestBytes(request: BatchRequest): number {
    return this.accountFor(request.request).batches.requestBytes(request);
  }

  async create(requests: readonly BatchRequest[]): Promise<BatchInfo> {
    const byAccount = new Map<BatchAccount, BatchRequest[]>();
    for (const r of requests) {
      const account = this.accountFor(r.request);
      byAccount.set(account, [...(byAccount.get(account) ?? []), r]);
    }
    const made: Array<[BatchAccount, BatchInfo]> = [];
    try {
      for (const [account, part] of byAccount) made.push([account, await account.batches.create(part)]);
    } catch (err) {
      // No part may run uncollected: the requests will be sent again.
      await Promise.allSettled(made.map(([a, info]) => a.batches.cancel(info.id)));
      throw err;
    }
    const id = made.map(([a, info]) => `${a.name}${nameSeparator}${info.id}`).join(partSeparator);
    return merged(
      id,
      made.map(([, info]) => info),
    );
  }

  #parts(id: string): Array<[string, string]> {
    return partsOf(id, (this.#accounts[0] as BatchAccount).name);
  }

  #account(name: string): BatchAccount {
    const account = this.#accounts.find((a) => a.name === name);
    if (account === undefined)
      throw new Error(`batch of account "${name}", which the accounts file no longer has`);
    return account;
  }

  /**
   * The parts as one batch. A part the API no longer knows is left out (its requests have no
   * result: the caller sends them again); only when every part is gone is the batch (`null`), so
   * one lost part never has the answered requests of the others sent, and paid, twice.
   */
  async retrieve(id: string): Promise<BatchInfo | null> {
    const infos = (await this.#known(id)).map(([, , info]) => info);
    return infos.length === 0 ? null : merged(id, infos);
  }

  /** The parts the API still knows, with what it says of each. */
  async #known(id: string): Promise<Array<[string, string, BatchInfo]>> {
    const known: Array<[string, string, BatchInfo]> = [];
    for (const [name, part] of this.#parts(id)) {
      const info = await this.#account(name).batches.retrieve(part);
      if (info !== null) known.push([name, part, info]);
    }
    return known;
  }

  /**
   * Every account's batches, newest first, each by its `<account>/<id>`: the accounts' lists (each
   * newest first) merged as they are read, so a reader that stops at a date reads no further pages.
   */
  async *list(): AsyncIterable<BatchInfo> {
    const heads = await Promise.all(
      this.#accounts.map(async (account) => {
        const pages = account.batches.list()[Symbol.asyncIterator]();
        return { name: account.name, pages, next: await pages.next() };
      }),
    );
    for (;;) {
      let newest: (typeof heads)[number] | undefined;
      for (const head of heads) {
        if (head.next.done) continue;
        if (newest === undefined || head.next.value.createdAt > (newest.next.value as BatchInfo).createdAt)
          newest = head;
      }
      if (newest === undefined || newest.next.done) return;
      yield { ...newest.next.value, id: `${newest.name}${nameSeparator}${newest.next.value.id}` };
      newest.next = await newest.pages.next();
    }
  }

  /** The results of the parts the API still knows (a gone part's requests have none). */
  async *results(id: string): AsyncIterable<{ customId: string; result: BatchResult }> {
    for (const [name, part] of await this.#known(id)) yield* this.#account(name).batches.results(part);
  }

  /** Cancel every part, each tried even when another fails; the first failure is then thrown. */
  async cancel(id: string): Promise<void> {
    const tried = await Promise.allSettled(
      this.#parts(id).map(([name, part]) => this.#account(name).batches.cancel(part)),
    );
    const failed = tried.find((t): t is PromiseRejectedResult => t.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
