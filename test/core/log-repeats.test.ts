import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger } from '../../src/core/log.js';
import { RepeatedLog } from '../../src/core/log-repeats.js';

describe('RepeatedLog', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the first of an error at once, then one summary per interval while it repeats; quiet forgets it', () => {
    vi.useFakeTimers();
    const lines: Array<Record<string, unknown>> = [];
    const r = new RepeatedLog(new Logger('debug', (l) => lines.push(JSON.parse(l))), { intervalMs: 1000 });
    for (let i = 0; i < 500; i++) r.warn('redis connection error', { error: 'ECONNREFUSED' });
    r.error('worker error', { error: 'ECONNREFUSED' });
    expect(lines.map((l) => l.msg)).toEqual(['redis connection error', 'worker error']);
    vi.advanceTimersByTime(1000);
    expect(lines.at(-1)).toMatchObject({
      level: 'warn',
      msg: 'redis connection error (repeated)',
      error: 'ECONNREFUSED',
      repeated: 499,
    });
    expect(lines).toHaveLength(3);
    // A quiet interval, then the next outage: its first error is logged at once again.
    vi.advanceTimersByTime(2000);
    expect(lines).toHaveLength(3);
    r.warn('redis connection error', { error: 'ECONNREFUSED' });
    expect(lines).toHaveLength(4);
    r.close();
  });

  it('distinct errors beyond the cap share one entry', () => {
    const lines: string[] = [];
    const r = new RepeatedLog(new Logger('debug', (l) => lines.push(l)), { intervalMs: 60_000, maxKinds: 3 });
    for (let i = 0; i < 1000; i++) r.warn('boom', { error: `e${i}` });
    expect(lines).toHaveLength(4);
    r.close();
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[4]!)).toMatchObject({
      msg: 'boom (repeated)',
      error: 'other errors',
      repeated: 996,
    });
  });
});
