/**
 * What the dashboard's rollups cost: the write per finished job (one pipelined round trip) and the
 * read of /dashboard/data for 1 h and 24 h, against a real Redis.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx scripts/bench-rollups.ts [JOBS]
 *
 * Writes into a throw-away queue name and deletes its keys afterwards.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { defaults } from '../src/core/defaults.js';
import { newRecord } from '../src/core/record.js';
import { readDashboard } from '../src/ops/dashboard/summary.js';
import { RollupWriter } from '../src/ops/metrics/rollups.js';
import { Keyspace } from '../src/store/keys.js';

const jobs = Number(process.argv[2] ?? 5000);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const queue = `bench-${randomUUID().slice(0, 8)}`;
const tenants = Array.from({ length: 20 }, (_, i) => `tenant-${i}`);
const models = ['claude-haiku-4-5', 'claude-sonnet-5', 'claude-opus-5'];
const w = new RollupWriter({
  connection: redis,
  keys: new Keyspace({ queue }),
  retention: defaults.rollups,
  tenantLabel: (t) => t ?? 'none',
  modelLabel: (m) => m,
});

const now = Date.now();
const records = Array.from({ length: jobs }, (_, i) => {
  // Spread over the last 24 hours so the 24 h read touches every minute key.
  const at = now - Math.floor((i / jobs) * 86_400_000);
  const r = newRecord(
    {
      model: models[i % 3] ?? 'claude-haiku-4-5',
      max_tokens: 1024,
      messages: [],
      tenant_id: tenants[i % 20],
    },
    at - 2000,
  );
  return {
    ...r,
    finished_at: new Date(at).toISOString(),
    total_ms: 2000,
    latency_ms: 800 + (i % 400),
    ttft_ms: 200,
    ttfb_ms: 150,
    queue_wait_ms: 50,
    input_tokens: 300,
    output_tokens: 200 + (i % 300),
    attempts: 1,
    cost_usd: 0.0012,
  };
});

const rows: string[][] = [];
const time = async (name: string, n: number, fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  rows.push([name, String(n), ms.toFixed(0), (ms / n).toFixed(3)]);
};

await time('write, sequential (one job at a time)', Math.min(jobs, 1000), async () => {
  for (const [i, r] of records.slice(0, 1000).entries()) await w.record(`j${i}`, 'completed', r);
});
await time('write, 50 concurrent', jobs - Math.min(jobs, 1000), async () => {
  const rest = records.slice(1000);
  for (let i = 0; i < rest.length; i += 50)
    await Promise.all(rest.slice(i, i + 50).map((r, k) => w.record(`k${i + k}`, 'completed', r)));
});
await time('read /dashboard/data 1h', 1, () => readDashboard(redis, new Keyspace({ queue }), 60));
await time('read /dashboard/data 24h', 1, () => readDashboard(redis, new Keyspace({ queue }), 1440));

const keys = await redis.keys(new Keyspace({ queue }).pattern);
const memory = (await Promise.all(keys.slice(0, 200).map((k) => redis.memory('USAGE', k)))) as number[];
const avg = memory.reduce((a, b) => a + (b ?? 0), 0) / Math.max(1, memory.length);
await redis.del(...keys);
redis.disconnect();

const head = ['operation', 'count', 'total ms', 'ms each'];
const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (r: string[]) =>
  r.map((c, i) => (i === 0 ? c.padEnd(width[i] ?? 0) : c.padStart(width[i] ?? 0))).join('  ');
console.log(`rollups: ${jobs} jobs, 3 models, 20 tenants, spread over 24 h (queue ${queue})\n`);
console.log([line(head), line(width.map((x) => '-'.repeat(x))), ...rows.map(line)].join('\n'));
console.log(`\nkeys: ${keys.length}, about ${Math.round(avg)} bytes each (MEMORY USAGE, sampled)`);
