/**
 * What OpenTelemetry costs: jobs/s through a promptq service (library enqueue → Redis → worker →
 * the simulator, unlimited and instant) with export off (no OTEL_* variable: no SDK loaded) and on
 * (OTLP/HTTP protobuf to a receiver in this process), alternating, each run in a fresh process.
 *
 *   node --conditions=source --import tsx scripts/bench-otel.ts [JOBS] [ROUNDS]
 *
 * Starts its own redis-server (needs `redis-server` on PATH).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TestRedis } from './lib/redis-server.js';

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]));
} else {
  await parent(Number(process.argv[2] ?? 3000), Number(process.argv[3] ?? 3));
}

/** One run: enqueue `jobs` in batches, wait for all to finish, print jobs/s. */
async function child(jobs: number): Promise<void> {
  const { startSimulator } = await import('@promptq/anthropic-simulator');
  const { loadConfig } = await import('../src/core/config.js');
  const { Logger } = await import('../src/core/log.js');
  const { runService } = await import('../src/ops/service.js');
  const sim = await startSimulator({
    limits: { rpm: 1_000_000, itpm: 1_000_000_000, otpm: 1_000_000_000 },
    ttftMs: 0,
    msPerToken: 0,
  });
  const config = loadConfig({
    ...process.env,
    ANTHROPIC_API_KEY: 'sk-ant-bench-0000000000',
    ANTHROPIC_BASE_URL: sim.url,
    PROMPTQ_QUEUE: `bench-otel-${randomUUID().slice(0, 8)}`,
    PROMPTQ_CONCURRENCY: '50',
    PORT: '0',
  });
  const svc = await runService(config, { api: false, worker: true, embedRedis: false }, new Logger('warn'));
  const body = { model: 'claude-haiku-4-5', max_tokens: 32, prompt: 'Say hello', tenant_id: 'bench' };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < jobs; i += 500) {
    await svc.queue.addBatch(Array.from({ length: Math.min(500, jobs - i) }, () => body));
  }
  for (;;) {
    const c = await svc.queue.queue.getJobCounts('completed', 'failed');
    if ((c.completed ?? 0) + (c.failed ?? 0) >= jobs) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // CPU time of this process (producer, worker, simulator and exporter together) per job: steadier
  // than jobs/s on a shared machine.
  const cpuMsPerJob = (cpu.user + cpu.system) / 1000 / jobs;
  await svc.close();
  await sim.close();
  process.stdout.write(
    `${JSON.stringify({ jobsPerSecond: jobs / seconds, cpuMsPerJob, rssMb: process.memoryUsage().rss / 2 ** 20 })}\n`,
  );
  process.exit(0);
}

async function parent(jobs: number, rounds: number): Promise<void> {
  const redis = new TestRedis();
  await redis.start();
  let exports = 0;
  let bytes = 0;
  const receiver = createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      exports += 1;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
  const run = (on: boolean) =>
    new Promise<{ jobsPerSecond: number; cpuMsPerJob: number; rssMb: number }>((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...clean, REDIS_URL: redis.url };
      if (on) Object.assign(env, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_LOGS_EXPORTER: 'none' });
      const p = spawn(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', self, '--child', String(jobs)],
        {
          env,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d));
      p.on('exit', (code) =>
        code === 0
          ? resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'))
          : reject(new Error(`exit ${code}`)),
      );
    });
  const results: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const cpu: Record<'off' | 'on', number[]> = { off: [], on: [] };
  for (let i = 0; i < rounds; i++) {
    for (const mode of ['off', 'on'] as const) {
      const r = await run(mode === 'on');
      results[mode].push(r.jobsPerSecond);
      cpu[mode].push(r.cpuMsPerJob);
      console.log(
        `round ${i + 1} ${mode.padEnd(3)} ${r.jobsPerSecond.toFixed(0)} jobs/s  ${r.cpuMsPerJob.toFixed(2)} CPU ms/job  rss ${r.rssMb.toFixed(0)} MB`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const off = median(results.off);
  const on = median(results.on);
  console.log(
    `\n${jobs} jobs, concurrency 50, median of ${rounds}: off ${off.toFixed(0)} jobs/s, on ${on.toFixed(0)} jobs/s ` +
      `(on/off ${(on / off).toFixed(2)}); CPU ${median(cpu.off).toFixed(2)} → ${median(cpu.on).toFixed(2)} ms/job; ` +
      `${exports} OTLP exports, ${(bytes / 2 ** 20).toFixed(1)} MB`,
  );
  receiver.close();
  await redis.stop();
}
