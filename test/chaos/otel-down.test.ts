import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { PromptQueue } from '../../src/producer/queue.js';
import type { RedisConnection } from '../../src/store/connection.js';
import { freePort } from '../helpers/redis-server.js';
import { uniqueQueue } from '../helpers/stack.js';
import { redisEnv, testRedis, testSettings } from '../helpers/topology.js';
import { reap, startWorker, until } from './helpers.js';

/**
 * OpenTelemetry with the collector down (issue 24, item 6). The same 40 jobs through a worker
 * process three times: without OpenTelemetry (the control), exporting to a port with nothing on it
 * (connection refused), and to a server that accepts and never answers (a blackhole). Exports are
 * attempted every 200–500 ms (the blackhole counts the connections it swallowed: the failures
 * happened). Asserted: no job slower than the control beyond slack, no log flood, and SIGTERM still
 * ends the process promptly — the last flush to a dead collector is bounded, not the exporter's
 * own timeout (15 s here). Printed: `otel-down {…}` per run.
 */
interface RunResult {
  medianMs: number;
  p90Ms: number;
  warnLines: number;
  exitMs: number;
  exitCode: number | null;
}

describe('chaos: OpenTelemetry with the collector down', () => {
  let sim: Simulator;
  let redis: RedisConnection;
  let blackhole: Server;
  const swallowed: Socket[] = [];
  beforeAll(async () => {
    sim = await startSimulator({ seed: 6, ttftMs: 100, msPerToken: 2, output: { cap: 30 } });
    redis = testRedis();
    blackhole = createServer((socket) => {
      swallowed.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const s of swallowed) s.destroy();
    await new Promise((r) => blackhole.close(r));
    redis?.disconnect();
    await sim?.close();
  });

  async function run(otel: Record<string, string>): Promise<RunResult> {
    const queue = uniqueQueue();
    const q = new PromptQueue({ connection: redis, queue, ...testSettings() });
    const w = await startWorker({
      ...redisEnv(),
      ANTHROPIC_API_KEY: 'sk-ant-otel-down-0000000000',
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: queue,
      PROMPTQ_CONCURRENCY: '8',
      ...otel,
    });
    try {
      const { ids } = await q.addBatch(
        Array.from({ length: 40 }, (_, i) => ({
          model: 'claude-haiku-4-5',
          max_tokens: 30,
          prompt: `otel ${i}`,
        })),
      );
      await until(
        async () => (await q.queue.getJobCounts('completed')).completed === ids.length,
        'the jobs to complete',
        60_000,
      );
      // Let the exporters try (and fail) a few times more while the worker idles.
      await new Promise((r) => setTimeout(r, 1500));
      const ms = (await Promise.all(ids.map((id) => q.get(id))))
        .map((v) => Number(v?.record.total_ms ?? Number.NaN))
        .sort((a, b) => a - b);
      const t = Date.now();
      w.proc.kill('SIGTERM');
      const exitCode = await w.exited;
      const exitMs = Date.now() - t;
      const warnLines = w.logs().filter((l) => l.level === 'warn' || l.level === 'error').length;
      return {
        medianMs: ms[Math.floor(ms.length / 2)]!,
        p90Ms: ms[Math.floor(ms.length * 0.9)]!,
        warnLines,
        exitMs,
        exitCode,
      };
    } finally {
      await reap(w);
      await q.close();
    }
  }

  it('refused and blackholed collectors: jobs as fast as without OpenTelemetry, no log flood, prompt exit', async () => {
    const exportEvery = {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_TIMEOUT: '15000',
    };
    const control = await run({});
    const refused = await run({
      ...exportEvery,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
    });
    const port = (blackhole.address() as { port: number }).port;
    const hole = await run({ ...exportEvery, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    const report = { control, refused, blackhole: hole, blackhole_connections: swallowed.length };
    console.log(`otel-down ${JSON.stringify(report)}`);

    // The blackhole really was sent to, and never answered.
    expect(swallowed.length).toBeGreaterThan(0);
    for (const r of [refused, hole]) {
      // Slack for a loaded machine; a blocking export (a flush per job) would add its timeout.
      expect(r.medianMs).toBeLessThanOrEqual(control.medianMs * 1.5 + 500);
      expect(r.p90Ms).toBeLessThanOrEqual(control.p90Ms * 1.5 + 1000);
      // No log flood: a few lines at most, whatever the export failures.
      expect(r.warnLines).toBeLessThanOrEqual(control.warnLines + 3);
      // SIGTERM: drained and gone well before the exporter's 15 s timeout.
      expect(r.exitCode).toBe(0);
      expect(r.exitMs).toBeLessThan(control.exitMs + 5000);
    }
  }, 240_000);
});
