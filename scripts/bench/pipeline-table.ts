/** S10/S11's Markdown table: one row per pipeline × process count, and promptq / plain ratios. */
import type { PipelineRun, PipelineScenario } from './pipeline.js';

export const pipelineColumns = [
  'pipeline',
  'processes',
  'completed',
  'failed',
  'elapsed (s)',
  'jobs/s',
  'worker CPU ms/job',
  'Redis commands/job',
  'EVALSHA/job',
  'Redis CPU ms/job',
  'Redis CPU (cores)',
];

const fixed = (x: number | null | undefined, digits: number) =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);

/** Per-job and per-second figures of one run. */
export function perJob(r: PipelineRun) {
  const jobs = Math.max(1, r.completed + r.failed);
  return {
    workerCpuMs: r.workerCpuS === null ? null : (1000 * r.workerCpuS) / jobs,
    commands: r.redis.commands / jobs,
    evalsha: r.redis.evalsha / jobs,
    cpuMs: (1000 * r.redis.cpuS) / jobs,
    cores: r.redis.cpuS / r.elapsedS,
  };
}

/** promptq / plain at one process count (null when either is missing). */
export function ratios(runs: readonly PipelineRun[], processes: number) {
  const p = runs.find((r) => r.kind === 'promptq' && r.processes === processes);
  const b = runs.find((r) => r.kind === 'plain' && r.processes === processes);
  if (!p || !b) return null;
  const div = (x: number | null, y: number | null) => (x === null || y === null || y === 0 ? null : x / y);
  const pp = perJob(p);
  const bb = perJob(b);
  return {
    jobsPerS: div(p.jobsPerS, b.jobsPerS),
    workerCpuMs: div(pp.workerCpuMs, bb.workerCpuMs),
    commands: div(pp.commands, bb.commands),
    evalsha: div(pp.evalsha, bb.evalsha),
    cpuMs: div(pp.cpuMs, bb.cpuMs),
    cores: div(pp.cores, bb.cores),
  };
}

export function renderPipelineTable(s: PipelineScenario, runs: readonly PipelineRun[]): string {
  const rounds = s.rounds > 1 ? `; each row the median of ${s.rounds} interleaved runs by jobs/s` : '';
  const head = `${s.id}: ${s.title} — ${s.jobs.length} jobs, ${s.concurrency} in flight per process, simulator without latency, limits far above the load; timed enqueue start → last job finished${rounds}`;
  const lines: string[][] = [pipelineColumns];
  const counts = [...new Set(runs.map((r) => r.processes))];
  for (const n of counts) {
    for (const r of runs.filter((x) => x.processes === n)) {
      const j = perJob(r);
      lines.push([
        r.label,
        String(r.processes),
        String(r.completed),
        String(r.failed),
        fixed(r.elapsedS, 1),
        fixed(r.jobsPerS, 0),
        fixed(j.workerCpuMs, 2),
        fixed(j.commands, 1),
        fixed(j.evalsha, 1),
        fixed(j.cpuMs, 3),
        fixed(j.cores, 2),
      ]);
    }
    const q = ratios(runs, n);
    if (q) {
      lines.push([
        'ratio promptq / plain',
        String(n),
        '',
        '',
        '',
        fixed(q.jobsPerS, 2),
        fixed(q.workerCpuMs, 2),
        fixed(q.commands, 2),
        fixed(q.evalsha, 2),
        fixed(q.cpuMs, 2),
        fixed(q.cores, 2),
      ]);
    }
  }
  const md = lines.map((cells) => `| ${cells.join(' | ')} |`);
  md.splice(1, 0, `|${pipelineColumns.map(() => '---').join('|')}|`);
  return `${head}\n\n${md.join('\n')}\n`;
}
