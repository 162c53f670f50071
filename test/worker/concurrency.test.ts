import { describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { Logger } from '../../src/core/log.js';
import { ConcurrencyTuner } from '../../src/worker/concurrency.js';

function tuner(rps: number, start = 16) {
  const lines: string[] = [];
  const target = { concurrency: start };
  const t = new ConcurrencyTuner({
    min: 8,
    max: 256,
    requestRate: async () => rps,
    target,
    log: new Logger('info', (l) => lines.push(l)),
    intervalMs:
      defaults.worker.adaptiveConcurrency === false ? 0 : defaults.worker.adaptiveConcurrency.intervalMs,
  });
  return { t, target, lines };
}

describe("ConcurrencyTuner: Little's law within bounds", () => {
  it('sets rate × latency × 1.5 + 2, and says so', async () => {
    const { t, target, lines } = tuner(20);
    t.observe(1500);
    await t.tune();
    expect(target.concurrency).toBe(Math.ceil(20 * 1.5 * 1.5) + 2);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ msg: 'concurrency adjusted', from: 16, to: 47 });
  });

  it('does nothing before a latency or a rate is known, or for a small change', async () => {
    const a = tuner(20);
    await a.t.tune();
    expect(a.target.concurrency).toBe(16);
    const b = tuner(0);
    b.t.observe(1000);
    await b.t.tune();
    expect(b.target.concurrency).toBe(16);
    const c = tuner(10);
    c.t.observe(1000); // wants 17: within 20 % of 16
    await c.t.tune();
    expect(c.target.concurrency).toBe(16);
    expect([...a.lines, ...b.lines, ...c.lines]).toEqual([]);
  });

  it('stays within min and max', async () => {
    const hi = tuner(1000);
    hi.t.observe(10_000);
    await hi.t.tune();
    expect(hi.target.concurrency).toBe(256);
    const lo = tuner(1, 64);
    lo.t.observe(100);
    await lo.t.tune();
    expect(lo.target.concurrency).toBe(8);
  });

  it('acts on the first latency at once once started, not an interval later; later samples wait for the look (the control)', async () => {
    const { t, target } = tuner(20);
    t.start();
    try {
      t.observe(1500);
      await new Promise((r) => setImmediate(r));
      expect(target.concurrency).toBe(Math.ceil(20 * 1.5 * 1.5) + 2);
      t.observe(15_000); // the average moves to 2,850 ms: 88 wanted, but only at the next look
      await new Promise((r) => setImmediate(r));
      expect(target.concurrency).toBe(47);
    } finally {
      t.stop();
    }
  });

  it('averages latency (new samples weigh 10 %)', async () => {
    const { t, target } = tuner(10);
    t.observe(1000);
    t.observe(11_000); // 1000 × 0.9 + 11000 × 0.1 = 2000 ms
    await t.tune();
    expect(target.concurrency).toBe(Math.ceil(10 * 2 * 1.5) + 2);
  });
});
