/**
 * One observer's events that it has not finished handling. Events of one key (a job, a model group)
 * run one after another, in the order they came; different keys run side by side. An event whose key
 * has nothing ahead of it runs at once, so a synchronous observer has handled it by the time
 * {@link ObserverQueue.push} returns. At most `capacity` events wait or run at once: past that,
 * `push` answers a promise that resolves when there is room, and the emitter waits for it — a stuck
 * observer slows the jobs down instead of growing memory without bound.
 */

export type Task = () => unknown;

export class ObserverQueue {
  readonly #capacity: number;
  /** The last event of each key still waiting or running. */
  readonly #tails = new Map<string, Promise<void>>();
  readonly #waitingForRoom: Array<() => void> = [];
  readonly #waitingForIdle: Array<() => void> = [];
  #size = 0;

  constructor(capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) {
      throw new RangeError(`capacity: expected a whole number ≥ 1, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Events waiting or running. */
  get size(): number {
    return this.#size;
  }

  /**
   * Run `task` after the key's earlier events; `onError` hears what it threw or rejected with.
   * `undefined` when it was taken at once; else a promise of room.
   */
  push(key: string, task: Task, onError: (err: unknown) => void): Promise<void> | undefined {
    if (this.#size >= this.#capacity) {
      return new Promise<void>((resolve) => this.#waitingForRoom.push(resolve)).then(() =>
        this.push(key, task, onError),
      );
    }
    this.#size += 1;
    const before = this.#tails.get(key);
    const running =
      before === undefined ? runCaught(task, onError) : before.then(() => runCaught(task, onError));
    if (running === undefined) {
      this.#release();
      return undefined;
    }
    this.#tails.set(key, running);
    void running.then(() => {
      if (this.#tails.get(key) === running) this.#tails.delete(key);
      this.#release();
    });
    return undefined;
  }

  /** Resolves once no event waits or runs. */
  idle(): Promise<void> {
    if (this.#size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waitingForIdle.push(resolve));
  }

  #release(): void {
    this.#size -= 1;
    this.#waitingForRoom.shift()?.();
    if (this.#size === 0) for (const resolve of this.#waitingForIdle.splice(0)) resolve();
  }
}

/** Run `task` now: `undefined` when it finished synchronously, else a promise that never rejects. */
function runCaught(task: Task, onError: (err: unknown) => void): Promise<void> | undefined {
  try {
    const result = task();
    if (result instanceof Promise) return result.then(() => {}, onError);
  } catch (err) {
    onError(err);
  }
  return undefined;
}
