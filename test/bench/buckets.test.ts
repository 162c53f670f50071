import { afterEach, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { openBuckets } from '../../scripts/bench/buckets.js';
import { benchApiKey } from '../../scripts/bench/run-sdk.js';

const body = { model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] };

async function status(sim: Simulator): Promise<number> {
  const res = await fetch(`${sim.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': benchApiKey,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('bench: the allowance refills from the run start', () => {
  const sims: Simulator[] = [];
  afterEach(async () => {
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });
  const start = async () => {
    // 60 RPM: one request a second; buckets start empty, as in every bench run.
    const sim = await startSimulator({
      seed: 1,
      startEmpty: true,
      limits: { rpm: 60, itpm: 1e6, otpm: 1e6 },
    });
    sims.push(sim);
    return sim;
  };

  it('a request 1.1 s after the start is admitted once the buckets opened then; without, refused (the control)', async () => {
    const opened = await start();
    const lazy = await start();
    openBuckets(opened, [{ body }]);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await status(opened)).toBe(200);
    // The group's buckets are made by this request, empty: the run's first second is lost.
    expect(await status(lazy)).toBe(429);
  });

  it('one request a second: the second one, 0.5 s later, is refused either way (the bucket is real)', async () => {
    const opened = await start();
    openBuckets(opened, [{ body }]);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await status(opened)).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(await status(opened)).toBe(429);
  });
});
