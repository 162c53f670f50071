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

export class VirtualTime {
  readonly clock: ReturnType<typeof FakeTimers.install>;
  readonly #conns: Redis[];
  /** Timers fired (a measure of the work a condition took). */
  steps = 0;

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

  /** Run until virtual `endMs`, nothing is left to do, or `maxSteps` timer steps; the virtual time reached. */
  async runUntil(endMs: number, maxSteps = Number.POSITIVE_INFINITY): Promise<number> {
    for (;;) {
      await this.quiesce();
      if (this.clock.countTimers() === 0 || this.steps >= maxSteps) return Math.min(this.clock.now, endMs);
      // Every timer due at that instant, as Node's timers phase runs them: before any I/O.
      const next = this.clock.next();
      this.clock.tick(0);
      this.steps += 1;
      if (next >= endMs) return endMs;
    }
  }

  uninstall(): void {
    this.clock.uninstall();
  }
}
