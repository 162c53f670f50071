/**
 * The lab's conditions (scripts/lab/conditions.ts): each family of the model is its own model group
 * in promptq, and the model's cache-read rule agrees with promptq's — else a condition measures a
 * naming mismatch (two API bucket sets sharing one limiter group), not the limiter.
 */
import { describe, expect, it } from 'vitest';
import { drawCondition, FIXED_SEED, familyModels, sizing } from '../../scripts/lab/conditions.js';
import { cacheReadsCountTowardItpm, modelGroup, otherModelGroup } from '../../src/core/models.js';

describe('lab conditions: model families', () => {
  it('every family maps to a promptq model group of its own, and no two families share one', () => {
    const groups = familyModels.map((ms) => new Set(ms.map((m) => modelGroup(m.model))));
    for (const g of groups) {
      expect(g.size).toBe(1);
      expect(g.has(otherModelGroup)).toBe(false);
    }
    const distinct = new Set(groups.map((g) => [...g][0]));
    expect(distinct.size).toBe(familyModels.length);
  });

  it("each model id's cache-read rule is promptq's", () => {
    for (const m of familyModels.flat())
      expect([m.model, m.cacheReadsCount]).toEqual([m.model, cacheReadsCountTowardItpm(m.model)]);
  });

  it('the drawn matrix has 4-family conditions whose families are 4 promptq groups', () => {
    let fours = 0;
    for (let k = 0; k < 200; k++) {
      const c = drawCondition(FIXED_SEED, k);
      const groups = new Set(c.api.families.map((f) => modelGroup(f.model)));
      expect(groups.size).toBe(c.api.families.length);
      if (c.api.families.length === 4) fours += 1;
    }
    expect(fours).toBeGreaterThan(0);
  });
});

describe('lab conditions: 529 bursts', () => {
  it('a run lasts as much longer as its bursts last: every burst ends within it, and the API serves at least the sizing minimum (22022:581)', () => {
    let withBursts = 0;
    for (let k = 0; k < 1000; k++) {
      const c = drawCondition(FIXED_SEED, k);
      if (c.api.overload.length === 0) continue;
      withBursts += 1;
      const burstMs = c.api.overload.reduce((t, o) => t + o.durationMs, 0);
      for (const o of c.api.overload) expect(o.startMs + o.durationMs).toBeLessThanOrEqual(c.durationMs);
      expect(c.durationMs - burstMs).toBeGreaterThanOrEqual(sizing.minMs - 1);
    }
    // (About 15% of the matrix has bursts.)
    expect(withBursts).toBeGreaterThan(100);
  });
});
