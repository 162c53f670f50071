import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { SharedLimiterState } from '../../src/limiter/shared-state.js';
import type { RedisConnection } from '../../src/store/connection.js';
import { testRedis } from '../helpers/topology.js';

/**
 * Headers that lie, driven through the real Lua with an explicit clock against a model of an API
 * that enforces `rpm` over windows of `windowS` seconds (a bucket of rpm × windowS / 60 requests,
 * refilled continuously, empty at the start; a request it cannot take is a 429 with retry-after
 * 1 s) and announces `rpm × scale` with the remainder × scale (a gateway's or a shared key's view:
 * scale < 1 understates, > 1 overstates). Every request that reaches the API is counted, refused
 * ones included. Calls last `latencyMs`; the headers are learned when a call ends, with the levels
 * the limiter's admission left (`admitted`) — as the worker's permit passes them.
 */
interface Run {
  /** Admitted by the API per minute over the last `measureS` seconds. */
  servedRpm: number;
  /** 429s / every request that reached the API, over the whole run. */
  share429: number;
  factor: number;
}

async function run(
  redis: RedisConnection,
  o: { rpm: number; windowS: number; scale: number; latencyMs: number; seconds: number; measureS: number },
): Promise<Run> {
  const s = new SharedLimiterState(redis, defaults.limiter.tuning);
  const k = `test:limiter:${randomUUID()}`;
  const capacity = Math.max(1, (o.rpm * o.windowS) / 60);
  let api = 0;
  let apiAt = 0;
  const apiLevel = (now: number) => Math.min(capacity, api + ((now - apiAt) * o.rpm) / 60_000);
  const announced = Math.round(o.rpm * o.scale);
  const headers = (remaining: number, levels: { requests?: number } | undefined, at: number) => ({
    limits: { requests: announced, input_tokens: undefined, output_tokens: undefined },
    remaining: {
      requests: Math.floor(remaining * o.scale),
      input_tokens: undefined,
      output_tokens: undefined,
    },
    ceilings: { requests: 0, input_tokens: 0, output_tokens: 0 },
    charge: { requests: 1, input_tokens: 0, output_tokens: 0 },
    admitted: levels,
    admittedAt: at,
    at,
  });
  const ends: { at: number; h: ReturnType<typeof headers> }[] = [];
  let sent = 0;
  let refused = 0;
  let measured = 0;
  const one = { requests: 1, input_tokens: 0, output_tokens: 0 };
  const answer = { refundInputTokens: 0, refundOutputTokens: 0, inRatioSample: null, headersSeen: true };
  const endMs = o.seconds * 1000;
  for (let now = 0; now < endMs; now += 10) {
    while (ends.length > 0 && (ends[0]?.at ?? 0) <= now) {
      const e = ends.shift();
      await s.settle(k, { ...answer, outcome: 'success', retryAfterMs: null, headers: e?.h }, now);
    }
    for (;;) {
      const r = await s.admit(k, one, now);
      if (r.waitMs > 0) break;
      sent++;
      const level = apiLevel(now);
      if (level < 1) {
        refused++;
        const h = headers(level, r.levels, now);
        const discovery = r.state === 'discovery';
        await s.settle(
          k,
          { ...answer, outcome: 'rate_limited', retryAfterMs: 1000, discovery, headers: h },
          now + 50,
        );
        continue;
      }
      api = level - 1;
      apiAt = now;
      if (now >= endMs - o.measureS * 1000) measured++;
      ends.push({ at: now + o.latencyMs, h: headers(api, r.levels, now) });
    }
  }
  const st = await s.read(k);
  await redis.del(k);
  return { servedRpm: (measured * 60) / o.measureS, share429: refused / sent, factor: st.factor };
}

describe('headers that lie: the pace follows what the API takes, not what it announces', () => {
  let redis: RedisConnection;
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(() => redis.disconnect());

  // Over the last minute of three the API took at least `least` of its real limit, and 429s were
  // at most `most` of every request that reached it.
  for (const c of [
    { rpm: 600, windowS: 10, scale: 0.5, least: 0.9, most: 0.03 },
    { rpm: 600, windowS: 30, scale: 0.7, least: 0.9, most: 0.03 },
    { rpm: 1200, windowS: 60, scale: 0.4, least: 0.9, most: 0.03 },
    { rpm: 600, windowS: 10, scale: 2, least: 0.9, most: 0.03 },
    { rpm: 600, windowS: 30, scale: 1.5, least: 0.9, most: 0.03 },
    // The control: exact headers stay exact.
    { rpm: 600, windowS: 10, scale: 1, least: 0.95, most: 0.03 },
  ]) {
    it(`${c.rpm} RPM over ${c.windowS} s windows, announced ×${c.scale}`, async () => {
      const r = await run(redis, { ...c, latencyMs: 1500, seconds: 180, measureS: 60 });
      console.log(`lying headers ${JSON.stringify({ ...c, ...r })}`);
      expect(r.servedRpm).toBeGreaterThanOrEqual(c.least * c.rpm);
      expect(r.share429).toBeLessThanOrEqual(c.most);
    });
  }
});
