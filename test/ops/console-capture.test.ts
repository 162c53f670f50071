/**
 * A library printing to the console must not break the log's one-JSON-object-per-line promise. The
 * Anthropic SDK `console.warn`s two lines of text on every call of a model it lists as deprecated
 * (`claude-sonnet-4-5` in this SDK version): a backfill of such jobs used to print two raw lines per
 * job. Under `promptq start` they become one JSON line, the repeats counted.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { reap, until } from '../chaos/helpers.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { uniqueQueue } from '../helpers/stack.js';

describe('console output of libraries under promptq start', () => {
  let sim: Simulator | undefined;
  let p: CliProcess | undefined;
  afterEach(async () => {
    await reap(p);
    await sim?.close();
  });

  it('the SDK deprecation warning of every call is one JSON line, then counted', async () => {
    sim = await startSimulator({ seed: 5 });
    p = spawnCli(['start'], {
      REDIS_URL: inject('redisUrl'),
      ANTHROPIC_API_KEY: 'sk-ant-console-0000000000',
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: uniqueQueue(),
      PORT: '0',
    });
    const running = await p.waitForLog((l) => l.msg === 'promptq running', 30_000);
    const url = String(running.url);
    const jobs = 20;
    const ids: string[] = [];
    for (let i = 0; i < jobs; i++) {
      const r = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, prompt: `hello ${i}` }),
      });
      expect(r.status).toBe(202);
      ids.push(((await r.json()) as { id: string }).id);
    }
    await until(
      async () => {
        const states = await Promise.all(
          ids.map(
            async (id) => ((await (await fetch(`${url}/v1/jobs/${id}`)).json()) as { state: string }).state,
          ),
        );
        return states.every((s) => s === 'completed');
      },
      'all jobs completed',
      60_000,
    );
    const lines = p
      .stderr()
      .split('\n')
      .filter((l) => l !== '');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    const warned = p
      .logs()
      .filter((l) => l.msg === 'a library wrote to the console' && String(l.error).includes('is deprecated'));
    // Control: the SDK did warn (the capture has something to catch) — once in the log, not per call.
    expect(warned).toHaveLength(1);
    expect(String(warned[0]?.error)).toContain("The model 'claude-sonnet-4-5' is deprecated");
  }, 120_000);
});
