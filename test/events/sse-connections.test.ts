/**
 * Event streams share one Redis reader per process: 50 open `/v1/events` streams cost at most 2
 * Redis connections between them (counted by the server itself, `CLIENT LIST`: the clients reading
 * with `XREAD`), every one of them
 * still gets each state change (fan-out in memory), and the reader's connection goes when the
 * last stream does. With a connection per stream it was 50.
 */
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, type Stack, startStack } from '../helpers/stack.js';
import { until } from './webhook-helpers.js';

const n = 50;

describe('SSE: one Redis reader per process', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Clients of the test Redis, and those whose last command was a (blocking) XREAD. */
  const clients = async () => {
    const lines = String(await stack.redis.client('LIST'))
      .split('\n')
      .filter((l) => l.trim() !== '');
    return { all: lines.length, xread: lines.filter((l) => / cmd=xread /.test(l)).length };
  };

  it(`${n} streams: at most 2 Redis connections, every stream gets every event`, async () => {
    const before = await clients();
    const sources = Array.from({ length: n }, () => new EventSource(`${stack.url}/v1/events`));
    const queued = sources.map(() => new Set<string>());
    sources.forEach((es, i) => {
      es.addEventListener('queued', (e) => {
        queued[i]!.add(JSON.parse(e.data).job_id as string);
      });
    });
    await until(() => sources.every((es) => es.readyState === EventSource.OPEN) || undefined);
    // Every stream is followed: a job's `queued` reaches each.
    expect(
      (
        await post(`${stack.url}/v1/jobs`, {
          id: 'fan-1',
          model: 'claude-haiku-4-5',
          max_tokens: 8,
          prompt: 'hi',
        })
      ).status,
    ).toBe(202);
    await until(() => queued.every((s) => s.has('fan-1')) || undefined);
    const open = await clients();
    console.log(
      `${n} streams: ${open.all - before.all} more Redis connections, ${open.xread} reading (XREAD)`,
    );
    // Counted as the connections reading (blocked in XREAD): other test files share this Redis and
    // open and close connections meanwhile, so the total is logged, not judged.
    expect(open.xread - before.xread).toBeLessThanOrEqual(2);
    for (const es of sources) es.close();
    // The last stream gone, so is the reader.
    await until(async () => ((await clients()).xread <= before.xread ? true : undefined));
  }, 60_000);
});
