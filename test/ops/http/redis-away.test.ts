/**
 * No request hangs while Redis is away (issue 23, item 10), whatever its query string: on a real
 * redis-server of the test's own, stopped, `?wait=` on a route that is not a long poll
 * (`GET /v1/tenants?wait=30`) answers `503` with `Retry-After` within `PROMPTQ_REDIS_TIMEOUT_MS`
 * like the same route without it; started again, it answers `200` (the control).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestRedis } from '../../helpers/redis-server.js';
import { type Stack, startStack } from '../../helpers/stack.js';

describe('routes while Redis is away', () => {
  let own: TestRedis | undefined;
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    await own?.destroy();
  });

  it('?wait= on a route that is not a long poll: 503 within the deadline, not a hang', async () => {
    own = new TestRedis();
    await own.start();
    s = await startStack({
      env: { REDIS_URL: own.url, PROMPTQ_REDIS_MODE: 'single', PROMPTQ_REDIS_TIMEOUT_MS: '1000' },
    });
    const get = async (path: string) => {
      const t = Date.now();
      const res = await fetch(`${s!.url}${path}`, { signal: AbortSignal.timeout(8000) }).catch(
        (err: Error) => ({ status: `no answer: ${err.name}`, headers: new Headers() }) as const,
      );
      if ('body' in res) await res.body?.cancel();
      return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: Date.now() - t };
    };
    await own.stop(true);
    for (const path of ['/v1/tenants', '/v1/tenants?wait=30']) {
      const r = await get(path);
      expect(r.status, path).toBe(503);
      expect(r.retryAfter, path).not.toBeNull();
      expect(r.ms, path).toBeLessThan(4000);
    }
    await own.start();
    expect((await get('/v1/tenants?wait=30')).status).toBe(200);
  }, 60_000);
});
