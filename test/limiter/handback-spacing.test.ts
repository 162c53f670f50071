/**
 * Hand-backs for a paced group are spaced (deferral.ts, `spacedDeferral`): the waiting calls of a
 * process come back one after another about as fast as the group can take them, not all at the
 * instant it has room (22022:340: 4,708 slots handed back 37,488 times for 40 permits).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { handBackSpacingMs, type LocalGroup, spacedDeferral } from '../../src/limiter/deferral.js';
import type { GroupState } from '../../src/limiter/shared-state.js';

const tuning = { ...defaults.limiter.tuning, target: 1 };
const costs = { requests: 1, input_tokens: 100, output_tokens: 100 };
const group = (learned: boolean): GroupState => ({
  limits: { requests: 600 },
  levels: { requests: 0 },
  factor: 1,
  burstMs: 1000,
  pausedUntil: 0,
  pauseReason: null,
  inRatio: 1,
  headerless: learned,
  learned,
});
const local = (): LocalGroup => ({
  parked: [],
  gated: 0,
  nextBackAt: 0,
  pacedBackAt: 0,
  quotaBackAt: new Map(),
});

describe('spaced hand-backs', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('100 calls handed back at one instant for a learned limit come back a quarter of an interval apart (600 RPM: 25 ms), the first when the bucket has room', () => {
    const l = local();
    const now = Date.now();
    const back = Array.from({ length: 100 }, () =>
      spacedDeferral(tuning, l, group(true), costs, now + 300, 'pacing'),
    );
    expect(back[0]?.untilMs).toBe(now + 300);
    const gaps = back.slice(1).map((d, i) => d.untilMs - (back[i]?.untilMs ?? 0));
    expect(gaps.every((g) => Math.abs(g - 25) < 1e-9)).toBe(true);
    expect(back.every((d) => d.reason === 'pacing')).toBe(true);
  });

  it('announced limits: unspaced (answers give back much of the charge: the interval overstates the wait)', () => {
    expect(handBackSpacingMs(group(true), costs, tuning)).toBe(25);
    expect(handBackSpacingMs(group(false), costs, tuning)).toBeNull();
    const l = local();
    const now = Date.now();
    const back = [1, 2, 3].map(() => spacedDeferral(tuning, l, group(false), costs, now + 300, 'pacing'));
    expect(back.map((d) => d.untilMs)).toEqual([now + 300, now + 300, now + 300]);
  });

  it('never later than the wait or maxDeferMs ahead, whichever is further: past it the line starts over', () => {
    const l = local();
    const now = Date.now();
    // 25 ms positions from 300 ms up to 60 s: 2,389 calls; the 2,390th starts the line over at the wait.
    const back = Array.from({ length: 2400 }, () =>
      spacedDeferral(tuning, l, group(true), costs, now + 300, 'pacing'),
    );
    expect(Math.max(...back.map((d) => d.untilMs))).toBeLessThanOrEqual(now + tuning.maxDeferMs);
    expect(back[2388]?.untilMs).toBe(now + 300 + 2388 * 25);
    expect(back[2389]?.untilMs).toBe(now + 300);
    expect(back[2390]?.untilMs).toBe(now + 325);
    // A wait longer than maxDeferMs is kept.
    expect(spacedDeferral(tuning, local(), group(true), costs, now + 90_000, 'paused').untilMs).toBe(
      now + 90_000,
    );
  });

  it('no limit known (discovery): back when asked, unspaced', () => {
    const l = local();
    const now = Date.now();
    const unknown = { ...group(true), limits: {} };
    const back = [1, 2, 3].map(() => spacedDeferral(tuning, l, unknown, costs, now + 300, 'pacing'));
    expect(back.map((d) => d.untilMs)).toEqual([now + 300, now + 300, now + 300]);
  });
});
