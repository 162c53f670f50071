/**
 * The lab's virtual clock (scripts/lab/virtual-time.ts) on a real Redis: timers due at the instant
 * the clock stands at (zero-delay yields) are no step of the budget, while a loop that lets the
 * clock move (a limiter polling every millisecond) is cut short by it; and the clock never moves
 * while a Redis reply is in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labRedis } from '../../scripts/lab/runner.js';
import { VirtualTime } from '../../scripts/lab/virtual-time.js';

const T0 = Date.UTC(2026, 0, 1);

describe('lab virtual time (real Redis)', () => {
  let redis: Awaited<ReturnType<typeof labRedis>>;
  beforeAll(async () => {
    redis = await labRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('a chain of zero-delay yields between Redis round trips fires at one instant: no step of the budget', async () => {
    const vt = new VirtualTime(T0, redis.conns);
    try {
      const conn = redis.conns[0]!;
      let rounds = 0;
      void (async () => {
        for (let i = 0; i < 300; i++) {
          await new Promise((r) => setTimeout(r, 0));
          await conn.ping();
          rounds += 1;
        }
      })();
      const reached = await vt.runUntil(T0 + 10_000, 5);
      expect(rounds).toBe(300);
      expect(vt.firings).toBe(300);
      expect(vt.steps).toBe(0);
      expect(reached).toBe(T0);
    } finally {
      vt.uninstall();
    }
  });

  it('a loop polling every millisecond is cut short at the step budget, at the budget exactly', async () => {
    const vt = new VirtualTime(T0, redis.conns);
    try {
      const conn = redis.conns[0]!;
      let stop = false;
      void (async () => {
        while (!stop) {
          await conn.ping();
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      const reached = await vt.runUntil(T0 + 10_000, 50);
      stop = true;
      expect(vt.steps).toBe(50);
      expect(reached).toBe(T0 + 50);
    } finally {
      vt.uninstall();
    }
  });

  it('a loop of zero-delay timers (the clock never moves) is cut short at the firings budget', async () => {
    const vt = new VirtualTime(T0, redis.conns);
    try {
      let stop = false;
      // Each yield scheduled from a continuation, as Bottleneck's are (a timer set inside a timer
      // callback would be due 1 ms later: the clock would move).
      const loop = async () => {
        while (!stop) await new Promise((r) => setTimeout(r, 0));
      };
      void loop();
      const reached = await vt.runUntil(T0 + 10_000, 50, 1_000);
      stop = true;
      expect(vt.firings).toBe(1_000);
      expect(reached).toBe(T0);
    } finally {
      vt.uninstall();
    }
  });

  it('the clock does not move while a reply is in flight: a script sees the now it was sent with', async () => {
    const vt = new VirtualTime(T0, redis.conns);
    try {
      const conn = redis.conns[0]!;
      const seen: number[] = [];
      setTimeout(async () => {
        const sentAt = Date.now();
        // A slow script: the 1 ms timer below is due long before its reply comes.
        await conn.eval(
          'local t = redis.call("TIME") while true do local n = redis.call("TIME") if (n[1] - t[1]) * 1e6 + (n[2] - t[2]) > 20000 then break end end return 1',
          0,
        );
        seen.push(sentAt, Date.now());
      }, 0);
      setTimeout(() => seen.push(-1), 1);
      await vt.runUntil(T0 + 100);
      expect(seen).toEqual([T0, T0, -1]);
    } finally {
      vt.uninstall();
    }
  });
});
