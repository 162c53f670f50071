/**
 * Virtual time for the real limiter: `Date` and the timers are faked (@sinonjs/fake-timers), Redis
 * is real. The clock moves only when nothing is in flight: every command sent to Redis has its
 * reply and the continuations have run; then the next timer fires. So a call's Lua sees the same
 * `now` its TypeScript computed (the limiter passes `Date.now()` to its scripts as an argument; they
 * never read Redis TIME), and ten minutes of traffic run in as long as their commands take.
 */
import FakeTimers from '@sinonjs/fake-timers';
import type { Redis } from 'ioredis';

const realSetImmediate = globalThis.setImmediate;
const turn = () => new Promise<void>((resolve) => realSetImmediate(resolve));

type Queued = { commandQueue: { length: number }; offlineQueue: { length: number } };
type Streamed = { stream?: { once(ev: 'data', f: () => void): void; off(ev: 'data', f: () => void): void } };

/** Commands sent on `conn` and not answered yet (ioredis's queues). */
function pending(conn: Redis): number {
  const c = conn as unknown as Queued;
  return c.commandQueue.length + c.offlineQueue.length;
}

/**
 * Until some connection with a command in flight receives data (ioredis's own listener, added
 * first, has parsed it by then). Waiting on the socket rather than polling in a loop leaves the CPU
 * to redis-server: on a loaded machine the polling was most of a condition's time.
 */
function someReply(conns: Redis[]): Promise<void> {
  const streams = conns
    .filter((c) => pending(c) > 0)
    .map((c) => (c as unknown as Streamed).stream)
    .filter((s) => s !== undefined);
  if (streams.length === 0) return turn();
  return new Promise<void>((resolve) => {
    const done = () => {
      for (const s of streams) s.off('data', done);
      resolve();
    };
    for (const s of streams) s.once('data', done);
  });
}

/** The fake clock's earliest timer's due time (its heap, O(1)); Infinity: none. */
function firstDue(clock: ReturnType<typeof FakeTimers.install>): number {
  const heap = (clock as unknown as { timerHeap?: { peek(): { callAt: number } | undefined } }).timerHeap;
  if (heap) return heap.peek()?.callAt ?? Number.POSITIVE_INFINITY;
  // (Another version of the library: the same, by a scan.)
  const timers = Object.values(
    (clock as unknown as { timers?: Record<string, { callAt: number }> }).timers ?? {},
  );
  return timers.reduce((m, t) => Math.min(m, t.callAt), Number.POSITIVE_INFINITY);
}

export class VirtualTime {
  readonly clock: ReturnType<typeof FakeTimers.install>;
  readonly #conns: Redis[];
  /** Instants the clock moved to (a measure of the work a condition took in virtual time). */
  steps = 0;
  /** Timers fired, those due at the instant the clock stands at included (zero-delay yields). */
  firings = 0;

  /** Fake `Date` and the timers from `now` on; `conns`: every connection the code under test uses. */
  constructor(now: number, conns: Redis[]) {
    this.#conns = conns;
    this.clock = FakeTimers.install({
      now,
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
      loopLimit: 1_000_000,
    });
  }

  /** Wait (in real time) until every Redis reply is in and nothing else runs. */
  async quiesce(): Promise<void> {
    for (;;) {
      await turn();
      if (this.#conns.some((c) => pending(c) > 0)) {
        await someReply(this.#conns);
        continue;
      }
      await turn();
      if (!this.#conns.some((c) => pending(c) > 0)) return;
    }
  }

  /**
   * Run until virtual `endMs`, nothing is left to do, `maxSteps` instants or `maxFirings` timers;
   * the virtual time reached. A timer due at the instant the clock stands at (a zero-delay yield:
   * Bottleneck takes several per call it schedules) fires as soon as the continuations have run,
   * Redis replies in flight or not: the clock does not move, so every script still sees the `now`
   * its TypeScript computed. The clock moves on only when nothing is in flight and nothing is due.
   */
  async runUntil(
    endMs: number,
    maxSteps = Number.POSITIVE_INFINITY,
    maxFirings = Number.POSITIVE_INFINITY,
  ): Promise<number> {
    for (;;) {
      await turn();
      if (firstDue(this.clock) <= this.clock.now) {
        if (this.firings >= maxFirings) return Math.min(this.clock.now, endMs);
        this.#fireDue();
        continue;
      }
      if (this.#conns.some((c) => pending(c) > 0)) {
        await someReply(this.#conns);
        continue;
      }
      await turn();
      if (this.#conns.some((c) => pending(c) > 0) || firstDue(this.clock) <= this.clock.now) continue;
      const next = firstDue(this.clock);
      if (next === Number.POSITIVE_INFINITY || this.steps >= maxSteps || this.firings >= maxFirings)
        return Math.min(this.clock.now, endMs);
      // Every timer due at that instant, as Node's timers phase runs them: before any I/O.
      this.clock.next();
      this.firings += 1;
      this.#fireDue();
      this.steps += 1;
      if (next >= endMs) return endMs;
    }
  }

  /**
   * Every timer due at the instant the clock stands at, earliest first, each counted (what
   * `clock.tick(0)` does, without its scan of every timer once none is due: thousands of slots
   * wait on timers).
   */
  #fireDue(): void {
    while (firstDue(this.clock) <= this.clock.now) {
      this.clock.next();
      this.firings += 1;
    }
  }

  uninstall(): void {
    this.clock.uninstall();
  }
}
