import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger } from '../../src/core/log.js';
import { captureConsole, RepeatedLog } from '../../src/core/log-repeats.js';

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

  it("captureConsole: a library's console.warn/error become JSON lines, repeats collapsed; the undo restores them", () => {
    const lines: Array<Record<string, unknown>> = [];
    const r = new RepeatedLog(new Logger('debug', (l) => lines.push(JSON.parse(l))), { intervalMs: 60_000 });
    const writes: string[] = [];
    const warn = vi.spyOn(console, 'warn').mockImplementation((...a: unknown[]) => writes.push(a.join(' ')));
    try {
      // Control: before the capture a warning goes to the console, not to the log.
      console.warn('before');
      expect(writes).toEqual(['before']);
      const undo = captureConsole(r);
      for (let i = 0; i < 50; i++) console.warn("The model '%s' is deprecated\nPlease migrate", 'old-model');
      console.error(new Error('boom'));
      expect(writes).toEqual(['before']);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatchObject({
        level: 'warn',
        msg: 'a library wrote to the console',
        error: "The model 'old-model' is deprecated\nPlease migrate",
      });
      expect(lines[1]).toMatchObject({ level: 'error', msg: 'a library wrote to the console' });
      expect(String(lines[1]?.error)).toContain('Error: boom');
      r.flush();
      expect(lines[2]).toMatchObject({ msg: 'a library wrote to the console (repeated)', repeated: 49 });
      undo();
      console.warn('after');
      expect(writes).toEqual(['before', 'after']);
    } finally {
      warn.mockRestore();
      r.close();
    }
  });
});
