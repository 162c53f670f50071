/**
 * Sizing figures for docs/sizing.md, measured on a private redis-server: N jobs through the HTTP
 * API (batches of 100) into one in-process worker against the simulator (no API limits, no
 * latency), then from Redis itself (`INFO commandstats`, `INFO cpu`, `INFO memory`):
 *
 * - Redis commands per job (every command any promptq component sent: enqueue, fetch, lock
 *   renewals, record writes, rollups, limiter, completion, the queue gauges of one /metrics scrape
 *   per second), and the commands that make up most of them;
 * - Redis CPU per job, and so the jobs/s one Redis core sustains before Redis is the bottleneck;
 * - memory per 1,000 retained (completed, kept) jobs, at the prompt and answer size used.
 *
 *   node --conditions=source --import tsx scripts/sizing.ts [--jobs 5000] [--concurrency 64] [--mode single|cluster]
 *
 * With `--mode cluster` it starts a 3-primary Redis Cluster and sums the figures over its primaries.
 */
import { parseArgs } from 'node:util';
import { startSimulator } from '../packages/anthropic-simulator/src/index.js';
import { loadConfig } from '../src/core/config.js';
import { Logger } from '../src/core/log.js';
import { runService } from '../src/ops/service.js';
import { nodeCommand, TestCluster } from './lib/redis-cluster.js';
import { TestRedis } from './lib/redis-server.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '64' },
    mode: { type: 'string', default: 'single' },
  },
});
const n = Number(values.jobs);
const mode = values.mode === 'cluster' ? 'cluster' : 'single';

const single = mode === 'single' ? new TestRedis() : undefined;
const cluster = mode === 'cluster' ? new TestCluster() : undefined;
await (single ?? cluster)!.start();
const url = single?.url ?? cluster!.url;
const ports = async () => (single ? [single.port] : await cluster!.primaries());

function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

async function snapshot() {
  const calls = new Map<string, number>();
  let cpu = 0;
  let memory = 0;
  for (const port of await ports()) {
    const stats = parseInfo(String(await nodeCommand(port, 'INFO', 'commandstats')));
    for (const [k, v] of stats) {
      const c = /calls=(\d+)/.exec(v);
      if (k.startsWith('cmdstat_') && c) calls.set(k.slice(8), (calls.get(k.slice(8)) ?? 0) + Number(c[1]));
    }
    const info = parseInfo(String(await nodeCommand(port, 'INFO')));
    cpu += Number(info.get('used_cpu_sys')) + Number(info.get('used_cpu_user'));
    memory += Number(info.get('used_memory'));
  }
  return { calls, cpu, memory };
}

// Limits far above what one machine sends: the headers end the limiter's discovery at once.
const sim = await startSimulator({
  seed: 3,
  limits: { rpm: 600_000, itpm: 100_000_000, otpm: 100_000_000 },
  ttftMs: 0,
  msPerToken: 0,
});
const config = loadConfig({
  REDIS_URL: url,
  PROMPTQ_REDIS_MODE: mode,
  ANTHROPIC_API_KEY: 'sk-ant-sizing-0123456789',
  ANTHROPIC_BASE_URL: sim.url,
  PORT: '0',
  PROMPTQ_CONCURRENCY: values.concurrency,
  PROMPTQ_LOG_LEVEL: 'silent',
});
const svc = await runService(config, { api: true, worker: true, embedRedis: false }, new Logger('silent'));
const scrape = setInterval(() => void fetch(`${svc.url}/metrics`).then((r) => r.text()), 1000);

for (const port of await ports()) await nodeCommand(port, 'CONFIG', 'RESETSTAT');
const before = await snapshot();
const t0 = performance.now();
const prompt = 'Summarise the following paragraph in one sentence. '.repeat(8); // ~400 characters
for (let i = 0; i < n; i += 100) {
  const jobs = Array.from({ length: Math.min(100, n - i) }, (_, k) => ({
    model: 'claude-haiku-4-5',
    max_tokens: 100,
    prompt: `${prompt} #${i + k}`,
    tenant_id: `tenant-${(i + k) % 10}`,
  }));
  const res = await fetch(`${svc.url}/v1/jobs/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jobs }),
  });
  if (res.status !== 202) throw new Error(`batch: ${res.status} ${await res.text()}`);
}
for (;;) {
  const c = await svc.queue.queue.getJobCounts('completed', 'failed');
  if ((c.completed ?? 0) + (c.failed ?? 0) >= n) break;
  await new Promise((r) => setTimeout(r, 200));
}
const seconds = (performance.now() - t0) / 1000;
clearInterval(scrape);
const after = await snapshot();

const perCommand = [...after.calls]
  .map(([cmd, c]) => [cmd, c - (before.calls.get(cmd) ?? 0)] as const)
  .filter(([cmd, c]) => c > 0 && !['info', 'config', 'cluster', 'ping'].includes(cmd))
  .sort((a, b) => b[1] - a[1]);
const total = perCommand.reduce((a, [, c]) => a + c, 0);
const cpuPerJobMs = ((after.cpu - before.cpu) / n) * 1000;
const result = {
  mode,
  jobs: n,
  seconds: Number(seconds.toFixed(1)),
  jobs_per_second: Math.round(n / seconds),
  commands_per_job: Number((total / n).toFixed(1)),
  top_commands_per_job: Object.fromEntries(
    perCommand.slice(0, 12).map(([c, k]) => [c, Number((k / n).toFixed(2))]),
  ),
  redis_cpu_ms_per_job: Number(cpuPerJobMs.toFixed(3)),
  jobs_per_second_per_redis_core: Math.round(1000 / cpuPerJobMs),
  memory_mb_per_1000_retained_jobs: Number(
    ((((after.memory - before.memory) / n) * 1000) / 2 ** 20).toFixed(2),
  ),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

await svc.close();
await sim.close();
await (single ?? cluster)!.destroy();
