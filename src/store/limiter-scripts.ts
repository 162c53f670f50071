/**
 * The limiter's scripts (lua/limiter-*.lua) with their KEYS and ARGV named in header order. What
 * the group hash holds and why is limiter/shared-state.ts; the key is keys.ts's `limiterKey`.
 */
import type { RedisConnection as Redis } from './connection.js';
import { script } from './scripts.js';

const groupKeys = ['group'] as const;
/** What a response's rate-limit headers announce, as limiter-observe-1.lua and limiter-settle-1.lua take it. */
const headerArgs = [
  'limitReq',
  'limitIn',
  'limitOut',
  'remainingReq',
  'remainingIn',
  'remainingOut',
  'ceilingReq',
  'ceilingIn',
  'ceilingOut',
  'target',
] as const;
export const admitScript = script(
  'limiter-admit-2.lua',
  ['group', 'share'],
  ['now', 'costReq', 'costIn', 'costOut', 'target', 'burstMs', 'discoveryTtlMs', 'reserveMs', 'share'],
  (r) => r as [number, string, string | undefined],
);
/** Give back to a tenant's share buckets what a call did not use (lua/limiter-share-refund-1.lua). */
export const shareRefundScript = script(
  'limiter-share-refund-1.lua',
  ['share'],
  ['refundIn', 'refundOut'],
  Number,
);
export const observeScript = script(
  'limiter-observe-1.lua',
  groupKeys,
  ['now', ...headerArgs, 'burstMs'],
  String,
);
export const settleScript = script(
  'limiter-settle-1.lua',
  groupKeys,
  [
    'now',
    'outcome',
    'refundIn',
    'refundOut',
    'retryAfterMs',
    'burstMs',
    'minFactor',
    'overloadBaseMs',
    'overloadMaxMs',
    'jitter',
    'inRatioSample',
    'headersSeen',
    'discovery',
    'recoveryStep',
    'burstRecoveryMs',
    'decreaseFactor',
    'burstDecrease',
    'minBurstMs',
    'pauseWithoutRetryAfterMs',
    'inRatioWeight',
    'learnStartRpm',
    'learnSlowStartStep',
    'learnStep',
    'learnDecrease',
    'learnWindowMs',
    'observe',
    ...headerArgs,
    'cautiousRecoveryStep',
    'cautionMs',
  ],
  (r) => r as [string, string, string],
);

/** The whole group hash (empty when the group is unknown). */
export function readGroup(redis: Redis, key: string): Promise<Record<string, string>> {
  return redis.hgetall(key);
}
