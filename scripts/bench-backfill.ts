/**
 * Backfill benchmark: enqueue 10,000 and 100,000 lines into a private redis-server, each run in its
 * own `promptq backfill` child process — the compiled CLI (`bin/promptq.js`, built first with
 * `npm run build`), as users run it — with wall time and peak RSS from /usr/bin/time, plus raw BullMQ
 * `addBulk` for comparison, a re-run (must add 0) and a run killed at 50% then resumed (must add
 * exactly the rest). Prints a table; docs/benchmarks.md keeps the numbers.
 *
 *   npx tsx scripts/bench-backfill.ts [--sizes 10000,100000]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TestRedis } from '../test/helpers/redis-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/promptq.js');
// The raw-BullMQ child is this script again, from source (scripts/ is not part of the build).
const rawScript = ['--import', 'tsx', fileURLToPath(import.meta.url)];

/** Child mode: raw BullMQ addBulk of N generated jobs in chunks of 1000 (no parsing, no validation). */
async function rawChild(url: string, queue: string, n: number): Promise<void> {
  const start = performance.now();
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const q = new Queue(queue, { connection: redis });
  for (let i = 0; i < n; i += 1000) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      jobs.push({
        name: 'claude-haiku-4-5',
        data: {
          model: 'claude-haiku-4-5',
          max_tokens: 256,
          messages: [{ role: 'user', content: prompt(j) }],
        },
        opts: { jobId: `raw-${j}`, priority: 500 },
      });
    }
    await q.addBulk(jobs);
  }
  await q.close();
  redis.disconnect();
  console.log(
    JSON.stringify({ enqueued: { added: n, enqueue_seconds: (performance.now() - start) / 1000 } }),
  );
}

function prompt(i: number): string {
  return `Summarise archive record ${i}: ${'lorem ipsum dolor sit amet '.repeat(6)}`;
}

function makeFile(dir: string, n: number, batches: boolean): string {
  const path = join(dir, `${batches ? 'batches' : 'bodies'}-${n}.jsonl`);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      batches
        ? JSON.stringify({
            custom_id: `rec-${i}`,
            params: {
              model: 'claude-haiku-4-5',
              max_tokens: 256,
              messages: [{ role: 'user', content: prompt(i) }],
            },
          })
        : JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 256, prompt: prompt(i) }),
    );
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

interface Run {
  wallS: number;
  rssMb: number;
  stdout: string;
  code: number | null;
}

/** Run `node ARGS` under /usr/bin/time -v; optionally kill it when `killWhen` says so. */
async function timed(
  args: string[],
  env: Record<string, string>,
  killWhen?: () => Promise<boolean>,
): Promise<Run> {
  const start = performance.now();
  // A run to be killed is node itself (so the kill hits it, as a crash would); others go under time -v.
  const [cmd, argv] = killWhen
    ? [process.execPath, args]
    : ['/usr/bin/time', ['-v', process.execPath, ...args]];
  const child = spawn(cmd, argv, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk) => {
    err += chunk;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  if (killWhen) {
    let done = false;
    void exited.then(() => {
      done = true;
    });
    while (!done && !(await killWhen())) await new Promise((r) => setTimeout(r, 2));
    if (!done) child.kill('SIGKILL');
  }
  const code = await exited;
  const wallS = (performance.now() - start) / 1000;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(err);
  return { wallS, rssMb: rss ? Number(rss[1]) / 1024 : Number.NaN, stdout: out, code };
}

/** Validate + enqueue seconds as the child measured them (no process start). */
function inProcess(r: Run): number | undefined {
  try {
    const e = (JSON.parse(r.stdout) as { enqueued: { validate_seconds?: number; enqueue_seconds: number } })
      .enqueued;
    return (e.validate_seconds ?? 0) + e.enqueue_seconds;
  } catch {
    return undefined;
  }
}

const added = (r: Run) => (JSON.parse(r.stdout) as { enqueued: { added: number } }).enqueued.added;

/** The private redis-server, the directory of input files, and the table's rows so far. */
interface Bench {
  redisUrl: string;
  redis: Redis;
  dir: string;
  rows: string[][];
}

async function count(bench: Bench, queue: string): Promise<number> {
  const q = new Queue(queue, { connection: bench.redis });
  const c = await q.count();
  await q.close();
  return c;
}

/** One row of the table (also printed to stderr at once). */
function row(bench: Bench, what: string, n: number, r: Run, addedJobs: number | string, check: string): void {
  const inner = r.code === 0 ? inProcess(r) : undefined;
  bench.rows.push([
    what,
    n.toLocaleString('en-US'),
    r.wallS.toFixed(2),
    inner === undefined ? '-' : inner.toFixed(2),
    inner === undefined || n === 0 ? '-' : Math.round(n / inner).toLocaleString('en-US'),
    Number.isNaN(r.rssMb) ? '-' : r.rssMb.toFixed(0),
    String(addedJobs),
    check,
  ]);
  process.stderr.write(`${bench.rows.at(-1)!.join('  ')}\n`);
}

/** Every run for `n` lines: raw BullMQ, bodies, a re-run, the Batches format, killed and resumed. */
async function runSize(bench: Bench, n: number): Promise<void> {
  const env = (queue: string) => ({ REDIS_URL: bench.redisUrl, PROMPTQ_QUEUE: queue });
  const backfill = (path: string) => [bin, 'backfill', '--json', path];
  const bodies = makeFile(bench.dir, n, false);
  const batches = makeFile(bench.dir, n, true);

  const raw = await timed(
    [...rawScript, '--child-raw', String(n), '--url', bench.redisUrl, '--queue', `raw-${n}`],
    {},
  );
  const rawCheck = raw.code === 0 ? 'ok' : `exit ${raw.code}`;
  row(bench, 'raw BullMQ addBulk (no parse/validate)', n, raw, await count(bench, `raw-${n}`), rawCheck);
  await bench.redis.flushall();

  const q1 = `bodies-${n}`;
  const first = await timed(backfill(bodies), env(q1));
  const total = await count(bench, q1);
  row(
    bench,
    'backfill, job bodies (hashed ids)',
    n,
    first,
    added(first),
    total === n ? 'ok' : `FAIL: ${total} jobs`,
  );
  const again = await timed(backfill(bodies), env(q1));
  const noneAdded = added(again) === 0 && (await count(bench, q1)) === n;
  row(bench, '  re-run, same file', n, again, added(again), noneAdded ? 'ok: 0 added' : 'FAIL');
  await bench.redis.flushall();

  const q2 = `batches-${n}`;
  const b = await timed(backfill(batches), env(q2));
  row(
    bench,
    'backfill, Batches format (custom_id)',
    n,
    b,
    added(b),
    (await count(bench, q2)) === n ? 'ok' : 'FAIL',
  );
  await bench.redis.flushall();

  const q3 = `killed-${n}`;
  const killed = await timed(backfill(bodies), env(q3), async () => (await count(bench, q3)) >= n / 2);
  const before = await count(bench, q3);
  const killedCheck = killed.code !== 0 && before < n ? `ok: killed at ${before}` : 'FAIL: not killed';
  row(bench, '  killed at 50%', n, killed, before, killedCheck);
  const resumed = await timed(backfill(bodies), env(q3));
  const after = await count(bench, q3);
  const restOnce = added(resumed) === n - before && after === n;
  row(bench, '  resumed', n, resumed, added(resumed), restOnce ? 'ok: the rest, once' : `FAIL: ${after}`);
  await bench.redis.flushall();
}

function printTable(rows: string[][]): void {
  const head = ['run', 'lines', 'wall s', 'in-process s', 'lines/s', 'peak RSS MB', 'added', 'check'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(fmt(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(fmt(r));
  console.log(
    '\nwall s: the whole child process, start included (first row: start alone); in-process s: validate +' +
      ' enqueue as measured inside it, and lines/s from that; peak RSS: the child process.',
  );
}

async function main() {
  const { values } = parseArgs({
    options: {
      'child-raw': { type: 'string' },
      url: { type: 'string' },
      queue: { type: 'string' },
      sizes: { type: 'string', default: '10000,100000' },
    },
  });
  if (values['child-raw']) return rawChild(values.url!, values.queue!, Number(values['child-raw']));

  const sizes = values.sizes.split(',').map(Number);
  // The build as shipped: tsc, plus the Lua files copied into dist.
  process.stderr.write('building (npm run build)…\n');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  const redisServer = new TestRedis();
  await redisServer.start();
  const bench: Bench = {
    redisUrl: redisServer.url,
    redis: new Redis(redisServer.url, { maxRetriesPerRequest: null }),
    dir: mkdtempSync(join(tmpdir(), 'promptq-bench-backfill-')),
    rows: [],
  };
  try {
    // Startup alone (node + imports), so the table can be read without it.
    const boot = await timed([bin, '--help'], {});
    row(bench, 'process start only (--help)', 0, boot, '-', '-');
    for (const n of sizes) await runSize(bench, n);
  } finally {
    bench.redis.disconnect();
    await redisServer.destroy();
    rmSync(bench.dir, { recursive: true, force: true });
  }
  printTable(bench.rows);
}

await main();
