import { describe, expect, it } from 'vitest';
import {
  buildPipelineScenario,
  medianRuns,
  type PipelineRun,
  runPipeline,
} from '../../scripts/bench/pipeline.js';
import { pipelineColumns, renderPipelineTable } from '../../scripts/bench/pipeline-table.js';
import { delta, parseCounters } from '../../scripts/bench/redis-info.js';

describe('bench S10/S11: pipeline overhead', () => {
  it('runs both pipelines in worker processes; the table holds their counts and the ratio row', async () => {
    const base = buildPipelineScenario('S10', 40);
    const s = { ...base, runs: base.runs.filter((r) => r.processes === 1) };
    const runs: PipelineRun[] = [];
    for (const r of s.runs) runs.push(await runPipeline(s, r.kind, r.processes, () => {}));
    expect(runs.map((r) => r.kind)).toEqual(['plain', 'promptq']);
    for (const r of runs) {
      // Every job done once: the simulator delivered exactly one message per completed job.
      expect(r.completed, r.kind).toBe(40);
      expect(r.failed, r.kind).toBe(0);
      expect(r.simulator).toEqual({ requests: 40, succeeded: 40, rateLimited: 0 });
      expect(r.jobsPerS, r.kind).toBeGreaterThan(0);
      // Each job costs Redis work, scripts included (BullMQ moves jobs with EVALSHA).
      expect(r.redis.commands / 40, r.kind).toBeGreaterThan(5);
      expect(r.redis.evalsha, r.kind).toBeGreaterThanOrEqual(40);
      expect(r.redis.cpuS, r.kind).toBeGreaterThan(0);
    }

    const table = renderPipelineTable(s, runs);
    const rows = table.split('\n').filter((l) => l.startsWith('|'));
    expect(rows).toHaveLength(2 + 3); // header, separator, plain, promptq, ratio
    expect(rows[1]).toBe(`|${pipelineColumns.map(() => '---').join('|')}|`);
    for (const row of [rows[0]!, ...rows.slice(2)])
      expect(row.split(' | ')).toHaveLength(pipelineColumns.length);
    const cells = (i: number) => rows[i]!.replace(/^\| | \|$/g, '').split(' | ');
    expect(cells(2)[0]).toMatch(/plain BullMQ/);
    expect(cells(3)[0]).toMatch(/promptq/);
    expect(cells(4)[0]).toBe('ratio promptq / plain');
    const col = (name: string) => pipelineColumns.indexOf(name);
    expect(Number(cells(2)[col('Redis commands/job')])).toBeCloseTo(runs[0]!.redis.commands / 40, 1);
    expect(Number(cells(4)[col('jobs/s')])).toBeCloseTo(runs[1]!.jobsPerS! / runs[0]!.jobsPerS!, 2);
    expect(Number(cells(4)[col('Redis commands/job')])).toBeCloseTo(
      runs[1]!.redis.commands / runs[0]!.redis.commands,
      2,
    );
    // The worker processes' own CPU (from /proc on Linux): each pipeline used some.
    for (const [i, r] of runs.entries()) {
      expect(r.workerCpuS, r.kind).toBeGreaterThan(0);
      expect(Number(cells(2 + i)[col('worker CPU ms/job')])).toBeCloseTo((1000 * r.workerCpuS!) / 40, 2);
    }
  }, 120_000);

  it('keeps the median run of each pipeline × process count by jobs/s', () => {
    const run = (kind: 'plain' | 'promptq', processes: number, jobsPerS: number | null) =>
      ({ kind, processes, jobsPerS }) as PipelineRun;
    const all = [
      run('plain', 1, 900),
      run('promptq', 1, 600),
      run('plain', 1, 1200),
      run('promptq', 1, null),
      run('plain', 1, 1000),
      run('promptq', 1, 700),
      run('plain', 4, 800),
    ];
    expect(medianRuns(all).map((r) => [r.kind, r.processes, r.jobsPerS])).toEqual([
      ['plain', 1, 1000],
      ['promptq', 1, 600],
      ['plain', 4, 800],
    ]);
  });

  it('reads INFO counters and their difference', () => {
    const at = (commands: number, evalsha: number, get: number, cpu: number) =>
      parseCounters(
        `# Stats\r\ntotal_connections_received:3\r\ntotal_commands_processed:${commands}\r\n`,
        `# Commandstats\r\ncmdstat_evalsha:calls=${evalsha},usec=10,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\ncmdstat_get:calls=${get},usec=1\r\n`,
        `# CPU\r\nused_cpu_sys:${cpu / 2}\r\nused_cpu_user:${cpu / 2}\r\nused_cpu_sys_children:9\r\n`,
      );
    const d = delta(at(100, 5, 20, 1), at(350, 15, 60, 1.5));
    expect(d).toEqual({ commands: 250, calls: 50, evalsha: 10, cpuS: 0.5 });
  });
});
