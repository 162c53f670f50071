/**
 * Event streams while Redis is away (issue 23, item 10: no request hangs past
 * `PROMPTQ_REDIS_TIMEOUT_MS`): on a real redis-server of the test's own, stopped, `GET /v1/events`
 * and `GET /v1/jobs/:id/events` answer `503` with `Retry-After` within the deadline (1 s here), and
 * hold no stream slot; started again, the same streams open (the control).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestRedis } from '../helpers/redis-server.js';
import { post, type Stack, startStack } from '../helpers/stack.js';

describe('SSE while Redis is away', () => {
  let own: TestRedis | undefined;
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    await own?.destroy();
  });

  it('503 + Retry-After within PROMPTQ_REDIS_TIMEOUT_MS; the streams open once Redis is back', async () => {
    // Persistent, and stopped cleanly: the job is still there when Redis is back.
    own = new TestRedis({ appendonly: true });
    await own.start();
    s = await startStack({
      env: {
        REDIS_URL: own.url,
        PROMPTQ_REDIS_MODE: 'single',
        PROMPTQ_REDIS_TIMEOUT_MS: '1000',
        PROMPTQ_MAX_WAITERS: '2',
      },
    });
    const body = { id: 'sse-out', model: 'claude-haiku-4-5', max_tokens: 8, prompt: 'hi' };
    expect((await post(`${s.url}/v1/jobs`, body)).status).toBe(202);
    const open = async (path: string) => {
      const t = Date.now();
      const res = await fetch(`${s!.url}${path}`, { signal: AbortSignal.timeout(8000) }).catch(
        (err: Error) => ({ status: `no answer: ${err.name}`, headers: new Headers() }) as const,
      );
      if ('body' in res) await res.body?.cancel();
      return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: Date.now() - t };
    };

    await own.stop();
    // More tries than stream slots: a refused stream holds none.
    for (const path of ['/v1/events', '/v1/jobs/sse-out/events', '/v1/events', '/v1/events']) {
      const r = await open(path);
      expect(r.status, path).toBe(503);
      expect(r.retryAfter, path).not.toBeNull();
      expect(r.ms, path).toBeLessThan(4000);
    }

    await own.start();
    for (const path of ['/v1/events', '/v1/jobs/sse-out/events']) {
      const res = await fetch(`${s.url}${path}`, { signal: AbortSignal.timeout(15_000) });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      await res.body?.cancel();
    }
  }, 90_000);
});
