/**
 * The one typed source of promptq's events (types.ts): the worker, the Message Batches route, the
 * producer and the limiter emit into it; metrics, logs, rollups, the spend-limit pause (and later
 * webhooks and event streams) subscribe to it, each concern in its own file.
 *
 * Observers do not hold a job's lock. `emit` hands each event to every listener's own
 * {@link ObserverQueue} and returns: a synchronous listener (a counter, a log line) has run by then,
 * an asynchronous one (a Redis write) goes on off the job's path, its events in order per job.
 * Only a `blocking` listener is awaited before `emit` returns, and so before the job is handed back
 * to BullMQ: what must be in place by then (the queue paused on a spend limit). What a waiter reads
 * (the record, the tenant's fairness count) is saved by the worker itself, before the events.
 *
 * A listener that throws or rejects never changes the job's outcome: it is logged (the same failure
 * again is collapsed into a summary, core/log-repeats.ts) and reported to
 * {@link PromptqEvents.onListenerError} (the `promptq_event_listener_errors_total` metric).
 */
import { defaults } from '../core/defaults.js';
import type { Logger } from '../core/log.js';
import { RepeatedLog } from '../core/log-repeats.js';
import { ObserverQueue } from './observer-queue.js';
import type { EventListeners, EventName, EventOf, EventSink, EventSource, ListenOptions } from './types.js';

type AnyListener = (payload: never) => unknown;

interface Subscription {
  listener: AnyListener;
  /** Off the job's path (absent: blocking, awaited by `emit`). */
  queue: ObserverQueue | undefined;
}

/** Hears every listener failure (after it was logged). */
export type ListenerErrorHandler = (event: EventName, error: Error) => void;

export interface PromptqEventsOptions {
  /** Where failing listeners are logged. @defaultValue a Node process warning per failure */
  log?: Logger;
  /** Events one listener may have waiting or running before `emit` waits for room. @defaultValue `defaults.observers.queueCapacity` */
  queueCapacity?: number;
  /** A listener's repeated failure is summed up this often. @defaultValue `defaults.log.repeatIntervalMs` */
  repeatIntervalMs?: number;
}

/** The key whose events a listener handles in order: the job, else the model group. */
function orderKey(payload: object): string {
  if ('jobId' in payload && typeof payload.jobId === 'string') return payload.jobId;
  if ('group' in payload && typeof payload.group === 'string') return `group:${payload.group}`;
  return '';
}

export class PromptqEvents implements EventSource, EventSink {
  readonly #subscriptions = new Map<EventName, Subscription[]>();
  readonly #errorHandlers: ListenerErrorHandler[] = [];
  readonly #repeats: RepeatedLog | undefined;
  readonly #capacity: number;
  /** Called while {@link idle} waits: listeners that hold writes back (the rollups' linger) send them. */
  readonly #drainHooks: Array<() => void> = [];

  constructor(opts: PromptqEventsOptions = {}) {
    const intervalMs = opts.repeatIntervalMs ?? defaults.log.repeatIntervalMs;
    this.#repeats = opts.log === undefined ? undefined : new RepeatedLog(opts.log, { intervalMs });
    this.#capacity = opts.queueCapacity ?? defaults.observers.queueCapacity;
    if (!(Number.isInteger(this.#capacity) && this.#capacity >= 1)) {
      throw new RangeError(`queueCapacity: expected a whole number ≥ 1, got ${this.#capacity}`);
    }
  }

  /** Listen to `event`; listeners are called in the order added. */
  on<E extends EventName>(event: E, listener: EventListeners[E], options: ListenOptions = {}): this {
    const list = this.#subscriptions.get(event) ?? [];
    list.push({
      listener: listener as AnyListener,
      queue: options.blocking ? undefined : new ObserverQueue(this.#capacity),
    });
    this.#subscriptions.set(event, list);
    return this;
  }

  off<E extends EventName>(event: E, listener: EventListeners[E]): this {
    const list = this.#subscriptions.get(event);
    const i = list?.findIndex((s) => s.listener === listener) ?? -1;
    if (i >= 0) list?.splice(i, 1);
    return this;
  }

  /**
   * `hook` runs while a shutdown (or anyone) waits for the listeners to be {@link idle}: a listener
   * that holds writes back to batch them (the rollups' linger) sends what it holds at once.
   */
  onDrain(hook: () => void): this {
    this.#drainHooks.push(hook);
    return this;
  }

  /** Hear every listener failure (for a metric); the failure was logged already. */
  onListenerError(handler: ListenerErrorHandler): this {
    this.#errorHandlers.push(handler);
    return this;
  }

  /**
   * Hand `payload` to every listener of `event`. Resolves once the blocking listeners are done and
   * every other listener has taken it (at once, unless its queue is full).
   */
  async emit<E extends EventName>(event: E, payload: EventOf<E>): Promise<void> {
    const list = this.#subscriptions.get(event);
    if (list === undefined) return;
    const key = orderKey(payload);
    for (const { listener, queue } of [...list]) {
      const call = () => (listener as (p: EventOf<E>) => unknown)(payload);
      const failed = (err: unknown) => this.#failed(event, err, key);
      if (queue === undefined) {
        try {
          await call();
        } catch (err) {
          failed(err);
        }
        continue;
      }
      const room = queue.push(key, call, failed);
      if (room !== undefined) await room;
    }
  }

  /**
   * Resolves `true` once every listener has handled every event emitted so far (a shutdown waits for
   * it), or `false` when `timeoutMs` passes first (a listener that never finishes cannot hold it).
   */
  async idle(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      if (Number.isFinite(timeoutMs)) timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.#drained(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #drained(): Promise<true> {
    for (;;) {
      // Again each turn: an event handled meanwhile may have started another batch's wait.
      for (const hook of this.#drainHooks) hook();
      const busy = [...this.#subscriptions.values()]
        .flat()
        .map((s) => s.queue)
        .filter((q): q is ObserverQueue => q !== undefined && q.size > 0);
      if (busy.length === 0) return true;
      await Promise.race([Promise.all(busy.map((q) => q.idle())), new Promise((r) => setTimeout(r, 20))]);
    }
  }

  /** Write the pending summary of repeated failures and stop its timer. */
  close(): void {
    this.#repeats?.close();
  }

  #failed(event: EventName, err: unknown, key: string): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.#repeats === undefined) {
      process.emitWarning(`'${event}' listener failed: ${error.message}`);
    } else {
      this.#repeats.warn('event listener failed', {
        event,
        ...(key.startsWith('group:') ? { group: key.slice(6) } : key === '' ? {} : { job_id: key }),
        error: error.message,
      });
    }
    for (const handler of this.#errorHandlers) {
      try {
        handler(event, error);
      } catch {
        // A failing metric must not fail the emit.
      }
    }
  }
}
