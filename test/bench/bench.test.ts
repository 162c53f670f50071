import { describe, expect, it } from 'vitest';
import { approachIds } from '../../scripts/bench/approaches.js';
import { parseBenchArgs, runBench } from '../../scripts/bench/bench.js';
import { columns } from '../../scripts/bench/table.js';

describe('promptq bench', () => {
  it('prints one table row per approach whose numbers are the simulator ground truth', async () => {
    const printed: string[] = [];
    const [report] = await runBench({
      scenarios: ['S1'],
      approaches: approachIds,
      jobs: 20,
      quick: true,
      out: (t) => printed.push(t),
      progress: () => {},
    });
    if (report?.kind !== 'rate') throw new Error('expected a rate-limiting report');
    const { scenario, results, table } = report;
    expect(printed.join('')).toContain(table);

    // Shape: heading, header row, separator, one row per approach, each with every column.
    const rows = table.split('\n').filter((l) => l.startsWith('|'));
    const header = columns(scenario);
    expect(rows).toHaveLength(2 + approachIds.length);
    expect(rows[1]).toBe(`|${header.map(() => '---').join('|')}|`);
    for (const row of [rows[0]!, ...rows.slice(2)]) expect(row.split(' | ')).toHaveLength(header.length);
    expect(results.map((r) => r.approach)).toEqual([...approachIds]);

    for (const [i, r] of results.entries()) {
      // Every job is accounted for, and each completed job is exactly one message the simulator
      // delivered (no competitor here): the runner's outcomes agree with the simulator.
      expect(r.completed + r.failed + r.unfinished, r.approach).toBe(20);
      expect(r.simulator.succeeded, r.approach).toBe(r.completed);
      expect(r.served).toEqual({ requests: r.simulator.requests, rateLimited: r.simulator.rateLimited });
      expect(r.simulator.requests, r.approach).toBeGreaterThanOrEqual(r.completed);

      // The printed cells are those numbers.
      const cells = rows[2 + i]!.replace(/^\| | \|$/g, '').split(' | ');
      expect(Number(cells[2])).toBe(r.simulator.requests);
      const share = (100 * r.simulator.rateLimited) / r.simulator.requests;
      expect(cells[3]).toBe(`${share.toFixed(1)}% (${r.simulator.rateLimited})`);
      // The steady state is a part of the run: the simulator's counts after its start.
      const steady = r.steady!;
      expect(steady.served.requests).toBeLessThanOrEqual(r.served.requests);
      expect(steady.served.rateLimited).toBeLessThanOrEqual(r.served.rateLimited);
      expect(cells[4]).toBe(
        `${((100 * steady.served.rateLimited) / Math.max(1, steady.served.requests)).toFixed(1)}% (${steady.served.rateLimited})`,
      );
      expect(cells[5]!.startsWith(String(r.failed))).toBe(true);

      // Buckets start empty: nobody can finish faster than the limits allow (small clock slack).
      if (r.throughputShare !== null) expect(r.throughputShare, r.approach).toBeLessThanOrEqual(1.05);
      if (r.p50Ms !== null) expect(r.p95Ms!).toBeGreaterThanOrEqual(r.p50Ms);
    }
  }, 180_000);

  it('rejects bad arguments naming the flag', () => {
    expect(() => parseBenchArgs(['--scenario', 'S99'])).toThrow(/--scenario: unknown "S99"/);
    expect(() => parseBenchArgs(['--approach', 'celery'])).toThrow(/--approach/);
    expect(() => parseBenchArgs(['--jobs', 'many'])).toThrow(/--jobs: expected a whole number/);
    expect(() => parseBenchArgs(['--rounds', '0'])).toThrow(/--rounds: expected a whole number from 1 to 9/);
    expect(() => parseBenchArgs(['--rounds', '10'])).toThrow(/--rounds/);
    expect(parseBenchArgs(['--rounds', '9'])).toMatchObject({ rounds: 9 });
    expect(parseBenchArgs(['--rounds', '1'])).toMatchObject({ rounds: 1 });
    expect(parseBenchArgs(['--scenario', 's1,s5', '--quick'])).toMatchObject({
      scenarios: ['S1', 'S5'],
      quick: true,
    });
    // S10/S11 run in a full bench; --quick runs them only when named.
    expect(parseBenchArgs([])).toMatchObject({ scenarios: expect.arrayContaining(['S9', 'S10', 'S11']) });
    const quick = parseBenchArgs(['--quick']);
    expect(quick !== 'help' && quick.scenarios).toEqual([
      'S1',
      'S2',
      'S3',
      'S4',
      'S5',
      'S6',
      'S7',
      'S8',
      'S9',
      'S12',
    ]);
    expect(parseBenchArgs(['--quick', '--scenario', 's10'])).toMatchObject({ scenarios: ['S10'] });
  });
});
