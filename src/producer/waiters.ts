/**
 * Long polls (`GET /v1/jobs/:id?wait=S`, {@link PromptQueue.wait}) driven by BullMQ's events: one
 * `QueueEvents` subscription per queue handle (its own blocking connection: BullMQ duplicates the
 * queue's) wakes the waiters of a job when it completes, fails or is removed. A waiter reads the job
 * when it starts, when woken, and on a slow safety re-check (an event can be missed: a failover to
 * a replica that had not seen it, a stream trimmed while disconnected), and once more after each
 * reconnect. An idle waiter costs Redis one read of its job per safety re-check; the subscription's
 * one blocking read is shared.
 *
 * The number of concurrent waits is capped ({@link JobWaiters.maxWaiters}), and each tenant's
 * ({@link JobWaiters.maxPerTenant}, so that one tenant's polls cannot take them all): past either,
 * {@link TooManyWaitersError} (the HTTP API answers `429` with `Retry-After`). On
 * {@link JobWaiters.release} (shutdown) every waiter answers at once with the job's current state.
 */
import { QueueEvents } from 'bullmq';
import { Cluster } from 'ioredis';
import { PromptqError } from '../core/errors.js';
import type { WaitersConfig } from '../core/settings.js';
import type { RedisConnection } from '../store/connection.js';
import { type Keyspace, storedJobId } from '../store/keys.js';
import type { JobView } from './job-view.js';

/** A wait refused because the process already holds its maximum of concurrent waits. */
export class TooManyWaitersError extends PromptqError {
  override readonly name = 'TooManyWaitersError';
  /** `tenant`: the cap reached is the tenant's own (`PROMPTQ_MAX_WAITERS_PER_TENANT`). */
  constructor(
    readonly max: number,
    readonly scope: 'process' | 'tenant' = 'process',
  ) {
    const what =
      scope === 'tenant'
        ? `at most ${max} at once per tenant, PROMPTQ_MAX_WAITERS_PER_TENANT`
        : `at most ${max} at once, PROMPTQ_MAX_WAITERS`;
    super(`too many requests waiting for jobs (${what}); retry shortly, or read the job without "wait"`, {
      code: 'too_many_waiters',
    });
  }
}

/** A lazy copy of `connection` fit for a blocking connection (BullMQ refuses one that gives up). */
function blockingTemplate(connection: RedisConnection): RedisConnection {
  if (connection instanceof Cluster) {
    const redisOptions = { ...connection.options.redisOptions, maxRetriesPerRequest: null };
    return connection.duplicate(undefined, { redisOptions, lazyConnect: true });
  }
  return connection.duplicate({ maxRetriesPerRequest: null, lazyConnect: true });
}

const terminal = (v: JobView | null) => v === null || v.state === 'completed' || v.state === 'failed';

interface Waiter {
  /** Set by an event (or release) that came while the waiter was reading the job. */
  woken: boolean;
  wake(): void;
}

/** The waits of one queue handle. */
export class JobWaiters {
  readonly maxWaiters: number;
  readonly maxPerTenant: number;
  /** Waits under way per tenant (only tenants with some). */
  readonly #perTenant = new Map<string, number>();
  readonly #events: boolean;
  readonly #recheckMs: number;
  readonly #lingerMs: number;
  readonly #connection: RedisConnection;
  readonly #keys: Keyspace;
  /** Read a job's view; `withPlace` false: without a waiting job's position and ETA (cheaper). */
  readonly #read: (id: string, withPlace: boolean) => Promise<JobView | null>;
  /** Waiters by the job's stored id (a tenant's ids carry its tag: store/keys.ts). */
  readonly #byId = new Map<string, Set<Waiter>>();
  #count = 0;
  #released = false;
  #subscription: Promise<QueueEvents> | undefined;
  #linger: NodeJS.Timeout | undefined;
  #onReady: (() => void) | undefined;
  #template: RedisConnection | undefined;

  constructor(
    connection: RedisConnection,
    keys: Keyspace,
    read: (id: string, withPlace: boolean) => Promise<JobView | null>,
    settings: WaitersConfig,
  ) {
    this.#connection = connection;
    this.#keys = keys;
    this.#read = read;
    this.maxWaiters = settings.maxWaiters;
    this.maxPerTenant = settings.maxPerTenant;
    this.#events = settings.events;
    this.#recheckMs = settings.recheckMs;
    this.#lingerMs = settings.lingerMs;
  }

  /** Waits under way now. */
  get size(): number {
    return this.#count;
  }

  /**
   * The job's view once it is completed or failed, or when `timeoutMs` passes, `signal` aborts or
   * the waiters are released; `null` for an unknown id. Throws {@link TooManyWaitersError} past
   * the cap, or past `tenant`'s own cap when a tenant waits.
   */
  async wait(id: string, timeoutMs: number, signal?: AbortSignal, tenant?: string): Promise<JobView | null> {
    if (this.#released || timeoutMs <= 0) return this.#read(id, true);
    const held = tenant === undefined ? 0 : (this.#perTenant.get(tenant) ?? 0);
    if (tenant !== undefined && held >= this.maxPerTenant)
      throw new TooManyWaitersError(this.maxPerTenant, 'tenant');
    if (this.#count >= this.maxWaiters) throw new TooManyWaitersError(this.maxWaiters);
    this.#count += 1;
    if (tenant !== undefined) this.#perTenant.set(tenant, held + 1);
    clearTimeout(this.#linger);
    try {
      return this.#events
        ? await this.#waitForEvents(id, timeoutMs, signal)
        : await this.#poll(id, timeoutMs, signal);
    } finally {
      this.#count -= 1;
      if (tenant !== undefined) {
        const left = (this.#perTenant.get(tenant) ?? 1) - 1;
        if (left > 0) this.#perTenant.set(tenant, left);
        else this.#perTenant.delete(tenant);
      }
      if (this.#count === 0 && this.#subscription !== undefined) {
        this.#linger = setTimeout(() => void this.#unsubscribe(), this.#lingerMs);
        this.#linger.unref();
      }
    }
  }

  async #waitForEvents(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobView | null> {
    const deadline = Date.now() + timeoutMs;
    // Subscribed before the first read: an event after it reaches this waiter (see #subscribe).
    // Without a subscription (its first read failed) this waiter re-reads on a backoff instead.
    const subscribed = await this.#subscribe().then(
      () => true,
      () => false,
    );
    if (!subscribed) return this.#poll(id, timeoutMs, signal);
    let resolveSleep: (() => void) | undefined;
    const waiter: Waiter = {
      woken: false,
      wake() {
        waiter.woken = true;
        resolveSleep?.();
      },
    };
    const set = this.#byId.get(id) ?? new Set<Waiter>();
    set.add(waiter);
    this.#byId.set(id, set);
    const onAbort = () => waiter.wake();
    signal?.addEventListener('abort', onAbort);
    try {
      let view: JobView | null = null;
      for (;;) {
        // The caller has gone: no read for nobody.
        if (signal?.aborted) return view;
        waiter.woken = false;
        // A re-check reads the state, not the place in line (its own commands, per waiter per period).
        view = await this.#read(id, false);
        const left = deadline - Date.now();
        if (terminal(view) || signal?.aborted || this.#released) return view;
        // The wait is over with the job still waiting: the answer carries its place in line.
        if (left <= 0) return this.#read(id, true);
        if (waiter.woken) continue;
        // Until an event, the deadline, the safety re-check (spread so that waiters do not re-read
        // together), an abort or release.
        const recheck = this.#recheckMs * (0.75 + Math.random() * 0.25);
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          resolveSleep = resolve;
          timer = setTimeout(resolve, Math.min(left, recheck));
        });
        resolveSleep = undefined;
        clearTimeout(timer);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      set.delete(waiter);
      if (set.size === 0 && this.#byId.get(id) === set) this.#byId.delete(id);
    }
  }

  /** Without events: re-read on a backoff. */
  async #poll(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobView | null> {
    const deadline = Date.now() + timeoutMs;
    let interval = 25;
    for (;;) {
      const view = await this.#read(id, false);
      const left = deadline - Date.now();
      if (terminal(view) || signal?.aborted || this.#released) return view;
      if (left <= 0) return this.#read(id, true);
      await new Promise((r) => setTimeout(r, Math.min(interval, left)));
      interval = Math.min(500, interval * 2);
    }
  }

  /** Wake every waiter of the job with this BullMQ id. */
  #wake(bullId: string | undefined): void {
    if (bullId === undefined) return;
    for (const w of this.#byId.get(storedJobId(bullId)) ?? []) w.wake();
  }

  #wakeAll(): void {
    for (const set of this.#byId.values()) for (const w of set) w.wake();
  }

  /**
   * The subscription, opened once (shared by every waiter). It reads the event stream from its
   * newest entry as of now, whenever BullMQ's first blocking read actually starts: a job finishing
   * between a waiter's registration and that read still wakes it.
   */
  #subscribe(): Promise<QueueEvents> {
    this.#subscription ??= (async () => {
      const newest = await this.#connection.xrevrange(this.#keys.bullmq('events'), '+', '-', 'COUNT', 1);
      // BullMQ opens its own blocking connection, a duplicate of the one it is given; a blocking
      // connection must wait out outages (`maxRetriesPerRequest: null`) whatever the queue's does.
      // This template never connects itself.
      this.#template = blockingTemplate(this.#connection);
      const events = new QueueEvents(this.#keys.queue, {
        connection: this.#template,
        prefix: this.#keys.prefix,
        lastEventId: newest[0]?.[0] ?? '0-0',
      });
      // The queue's connection reports Redis errors (the service logs them, once per outage).
      events.on('error', () => {});
      for (const e of ['completed', 'failed', 'removed'] as const) {
        events.on(e, (args: { jobId?: string }) => this.#wake(args.jobId));
      }
      // After a reconnect every waiter re-reads its job once: events may have been missed.
      this.#onReady = () => this.#wakeAll();
      this.#connection.on('ready', this.#onReady);
      return events;
    })();
    // A failed first read (Redis down) is retried by the next waiter.
    this.#subscription.catch(() => {
      this.#subscription = undefined;
    });
    return this.#subscription;
  }

  async #unsubscribe(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    if (this.#onReady) this.#connection.off('ready', this.#onReady);
    this.#onReady = undefined;
    const events = await subscription?.catch(() => undefined);
    // Bounded: closing waits for nothing Redis must answer (BullMQ disconnects its own connection).
    await events?.close().catch(() => {});
    this.#template?.disconnect();
    this.#template = undefined;
  }

  /**
   * Shutdown: every waiter answers now (with its job's current state) and later waits do not wait.
   * Resolves once no wait is under way, or after `boundMs` (a read Redis does not answer).
   */
  async release(boundMs = 1000): Promise<void> {
    this.#released = true;
    this.#wakeAll();
    const deadline = Date.now() + boundMs;
    // Local state only: the waiters' own reads finish them.
    while (this.#count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  /** {@link release}, then close the subscription. */
  async close(): Promise<void> {
    await this.release();
    clearTimeout(this.#linger);
    await this.#unsubscribe();
  }
}
