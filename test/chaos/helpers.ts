import type { RedisConnection } from '../../src/store/connection.js';
import { publicJobId } from '../../src/store/keys.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { testKeys } from '../helpers/topology.js';

/** Poll `pred` until it holds; fail naming `what` after `timeoutMs`. */
export async function until(
  pred: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `promptq worker` child process, resolved once it runs; `url` serves its /metrics. */
export async function startWorker(env: Record<string, string>): Promise<CliProcess & { url: string }> {
  const p = spawnCli(['worker'], { PORT: '0', PROMPTQ_RETRY_BASE_MS: '20', ...env });
  const running = await p.waitForLog((l) => l.msg === 'promptq running', 30_000);
  return Object.assign(p, { url: String(running.url) });
}

/** Stop a child for good (SIGKILL) unless it already exited. */
export async function reap(p: CliProcess | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill('SIGKILL');
  await p.exited;
}

/**
 * How often each job was reported finished, read from the queue's BullMQ event stream: what every
 * `QueueEvents` listener (and so every user waiting on a job) sees.
 */
export async function finishEvents(
  redis: RedisConnection,
  queue: string,
): Promise<{ completed: Map<string, number>; failed: Map<string, number>; stalled: number }> {
  const completed = new Map<string, number>();
  const failed = new Map<string, number>();
  let stalled = 0;
  let start = '-';
  for (;;) {
    const batch = await redis.xrange(testKeys(queue).bullmq('events'), start, '+', 'COUNT', 5000);
    for (const [, fields] of batch) {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      // By the id promptq answered with (BullMQ's is `pq.<id>`: store/keys.ts).
      const id = publicJobId(f.jobId ?? '');
      if (f.event === 'completed') completed.set(id, (completed.get(id) ?? 0) + 1);
      if (f.event === 'failed') failed.set(id, (failed.get(id) ?? 0) + 1);
      if (f.event === 'stalled') stalled += 1;
    }
    if (batch.length < 5000) break;
    start = `(${batch[batch.length - 1]![0]}`;
  }
  return { completed, failed, stalled };
}

/** A counter's value summed over label sets matching `labels` in Prometheus text. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
