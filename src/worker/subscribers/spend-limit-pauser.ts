/**
 * A spend limit: no amount of waiting helps until someone raises it. Pause the whole queue (every
 * worker stops taking jobs) and say so loudly; the job itself is put back by the worker.
 * `promptq resume` continues.
 */
import { Queue } from 'bullmq';
import type { Logger } from '../../core/log.js';
import type { EventSource, SpendLimitEvent } from '../../events/types.js';
import type { RedisConnection as Redis } from '../../store/connection.js';

export interface SpendLimitPauserOptions {
  connection: Redis;
  queue: string;
  prefix: string;
  log: Logger;
}

export class SpendLimitPauser {
  readonly #options: SpendLimitPauserOptions;
  /** Opened on the first spend limit only: most workers never need it. */
  #queue: Queue | undefined;

  constructor(opts: SpendLimitPauserOptions) {
    this.#options = opts;
  }

  subscribe(events: EventSource): this {
    // Blocking: the queue is paused before the job is put back, so no worker takes it meanwhile.
    events.on('spendLimit', (e) => this.#pause(e), { blocking: true });
    return this;
  }

  async #pause(e: SpendLimitEvent): Promise<void> {
    const options = this.#options;
    if (!this.#queue) {
      this.#queue = new Queue(options.queue, { connection: options.connection, prefix: options.prefix });
      // Connection errors are logged by the connection's owner; BullMQ would print them raw.
      this.#queue.on('error', () => {});
    }
    await this.#queue.pause();
    options.log.error(
      'SPEND LIMIT REACHED: queue paused. Raise the limit in the Anthropic console, then run `promptq resume`',
      { job_id: e.jobId, queue: options.queue, error_code: e.errorCode, message: e.message },
    );
  }

  async close(): Promise<void> {
    await this.#queue?.close();
  }
}
