import type { SimulatorCounters } from './types.js';

/** Fresh zeroed counters. */
export function emptyCounters(): SimulatorCounters {
  return {
    requests: 0,
    byStatus: {},
    succeeded: 0,
    rateLimited: { total: 0, bucket: 0, shortInterval: 0, scripted: 0 },
    overloaded: 0,
    apiErrors: 0,
    midstreamErrors: 0,
    drops: 0,
    hangs: 0,
    inFlight: 0,
    peakInFlight: 0,
    inputTokens: 0,
    cacheCreationInputTokens: 0,
    cacheReadInputTokens: 0,
    outputTokens: 0,
    firstSuccessAt: null,
    lastSuccessAt: null,
  };
}

/**
 * Ground-truth counters, kept for the whole simulator and per model group: every update is applied
 * to both so the totals always equal the sum of the groups.
 */
export class StatsRecorder {
  total = emptyCounters();
  groups = new Map<string, SimulatorCounters>();
  countTokensRequests = 0;

  /** Applies `update` to the totals and to `group`'s counters. */
  record(group: string, update: (c: SimulatorCounters) => void): void {
    let g = this.groups.get(group);
    if (!g) {
      g = emptyCounters();
      this.groups.set(group, g);
    }
    update(this.total);
    update(g);
  }

  /** Counts a response status. */
  status(group: string, code: number): void {
    this.record(group, (c) => {
      c.byStatus[code] = (c.byStatus[code] ?? 0) + 1;
    });
  }

  /** Moves the in-flight gauge by `delta`, tracking the peak. */
  inFlight(group: string, delta: 1 | -1): void {
    this.record(group, (c) => {
      c.inFlight += delta;
      c.peakInFlight = Math.max(c.peakInFlight, c.inFlight);
    });
  }

  /** Zeroes everything (in-flight requests keep being tracked from zero). */
  reset(): void {
    const inFlight = new Map([...this.groups].map(([name, c]) => [name, c.inFlight]));
    this.total = emptyCounters();
    this.groups = new Map();
    this.countTokensRequests = 0;
    // Requests still running will decrement on completion; carry their count so the gauge stays >= 0.
    for (const [name, n] of inFlight) {
      if (n > 0)
        this.record(name, (c) => {
          c.inFlight += n;
        });
    }
  }
}
