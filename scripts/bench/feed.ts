/**
 * Hands a workload to an approach at the jobs' enqueue times, and a FIFO that in-process pools
 * pull from.
 */
import type { BenchJob } from './types.js';

/**
 * Calls `push` with each group of jobs that share an enqueue time, when that time comes (relative
 * to `t0`). Resolves after the last group was pushed.
 */
export async function feed(
  jobs: readonly BenchJob[],
  t0: number,
  push: (batch: BenchJob[]) => void | Promise<void>,
): Promise<void> {
  const groups = new Map<number, BenchJob[]>();
  for (const j of jobs) {
    const group = groups.get(j.enqueueAtMs);
    if (group) group.push(j);
    else groups.set(j.enqueueAtMs, [j]);
  }
  for (const at of [...groups.keys()].sort((a, b) => a - b)) {
    const wait = t0 + at - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await push(groups.get(at) ?? []);
  }
}

/** A FIFO of enqueued jobs that many consumer loops share. */
export class JobFifo {
  readonly #items: Array<{ job: BenchJob; enqueuedAt: number }> = [];
  readonly #waiters: Array<(item: { job: BenchJob; enqueuedAt: number } | null) => void> = [];
  #closed = false;

  push(batch: readonly BenchJob[]): void {
    const enqueuedAt = Date.now();
    for (const job of batch) {
      const waiter = this.#waiters.shift();
      if (waiter) waiter({ job, enqueuedAt });
      else this.#items.push({ job, enqueuedAt });
    }
  }

  /** No more jobs will come: waiting consumers get `null` once the FIFO is empty. */
  close(): void {
    this.#closed = true;
    if (this.#items.length === 0) for (const w of this.#waiters.splice(0)) w(null);
  }

  /** The next job, or `null` when closed and drained. */
  async take(): Promise<{ job: BenchJob; enqueuedAt: number } | null> {
    const item = this.#items.shift();
    if (item) {
      if (this.#closed && this.#items.length === 0) for (const w of this.#waiters.splice(0)) w(null);
      return item;
    }
    if (this.#closed) return null;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
