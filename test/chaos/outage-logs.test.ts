/**
 * Logs during a Redis outage: `promptq start` (API, worker, private connections of BullMQ) with its
 * Redis gone for 25 seconds. Every stderr line must be one JSON object (BullMQ and ioredis used to
 * print raw multi-line `Error: connect ECONNREFUSED` dumps), and the count must stay small: the
 * first of each error, then a summary every `logRepeatIntervalMs`. The control is in the numbers:
 * the summaries count the hundreds of errors that were collapsed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { defaults } from '../../src/core/defaults.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { TestRedis } from '../helpers/redis-server.js';
import { uniqueQueue } from '../helpers/stack.js';
import { reap, until } from './helpers.js';

describe('chaos: logs while Redis is down', () => {
  let redisServer: TestRedis | undefined;
  let sim: Simulator | undefined;
  let p: CliProcess | undefined;
  afterEach(async () => {
    await reap(p);
    await sim?.close();
    await redisServer?.destroy();
  });

  it('every line is JSON and the count is bounded; repeats are summarised; the service recovers', async () => {
    redisServer = new TestRedis();
    await redisServer.start();
    sim = await startSimulator({ seed: 21 });
    p = spawnCli(['start'], {
      REDIS_URL: redisServer.url,
      ANTHROPIC_API_KEY: 'sk-ant-outage-0000000000',
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: uniqueQueue(),
      PORT: '0',
    });
    const running = await p.waitForLog((l) => l.msg === 'promptq running', 30_000);
    const url = String(running.url);
    // A long poll opens the job-events subscription (its own blocking connection, kept 30 s after
    // the last wait): it is there through the outage, and must log like the rest.
    const waitFor = async () => {
      const r = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'hi' }),
      });
      const { id } = (await r.json()) as { id: string };
      return (await (await fetch(`${url}/v1/jobs/${id}?wait=20`)).json()) as { state: string };
    };
    expect((await waitFor()).state).toBe('completed');
    const before = p.stderr().split('\n').length;

    const outageMs = 25_000;
    await redisServer.stop(true);
    const t0 = Date.now();
    // Traffic meanwhile: the API answers 503 at once.
    while (Date.now() - t0 < outageMs) {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
      expect(r.status).toBe(503);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await redisServer.start();
    await until(async () => (await fetch(`${url}/readyz`)).status === 200, 'ready again', 30_000);
    // Long polls work again.
    expect((await waitFor()).state).toBe('completed');

    const lines = p
      .stderr()
      .split('\n')
      .filter((l) => l !== '');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    const during = lines.slice(before - 1).map((l) => JSON.parse(l) as Record<string, unknown>);
    // The warnings and errors (the info lines are the job run after the outage).
    const errors = during.filter((l) => l.level !== 'info');
    // A summary says "(repeated)" after the first line's message.
    const kinds = new Set(errors.map((l) => `${String(l.msg).replace(/ \(repeated\)$/, '')}|${l.error}`));
    const collapsed = during.reduce((n, l) => n + (typeof l.repeated === 'number' ? l.repeated : 0), 0);
    console.log(
      `outage ${outageMs} ms: ${errors.length} warning/error lines of ${kinds.size} kinds ` +
        `(${during.length} lines in all), ${collapsed} repeats collapsed`,
    );
    // Two errors (the worker's and the connection's), each logged once, then summarised once per
    // interval (10 s): at most 1 + 3 lines each over 25 s and the reconnect — 6 measured.
    expect(kinds.size).toBeLessThanOrEqual(2);
    const perKind = 1 + Math.ceil(outageMs / defaults.log.repeatIntervalMs);
    expect(errors.length).toBeLessThanOrEqual(kinds.size * perKind);
    expect(errors.length).toBeLessThanOrEqual(8);
    // Control: the errors were really there, many of them, and only counted.
    expect(collapsed).toBeGreaterThan(50);
  }, 120_000);
});
