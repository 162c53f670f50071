/** Tenants' per-minute quotas (lua/quota-admit-2.lua, quota-refund-1.lua): requests and tokens, shared by all workers. */
import type { RedisConnection as Redis } from './connection.js';
import type { Keyspace } from './keys.js';
import { script } from './scripts.js';

const admitScript = script('quota-admit-2.lua', ['tenant', 'buckets'], ['now', 'tokens'], (r) => {
  const [wait, resource] = r as [number, string | undefined];
  return {
    waitMs: Number(wait),
    resource: resource === 'tokens' ? ('tokens' as const) : ('requests' as const),
  };
});

const refundScript = script('quota-refund-1.lua', ['buckets'], ['requests', 'tokens'], Number);

/** Give back requests and tokens counted by {@link admitQuota} (a call not made, or smaller than its estimate). */
export async function refundQuota(
  redis: Redis,
  keys: Keyspace,
  tenant: string,
  requests: number,
  tokens: number,
): Promise<void> {
  if (requests === 0 && tokens === 0) return;
  await refundScript(redis, { buckets: keys.quota(tenant) }, { requests, tokens });
}

/** Count a call against the tenant's quota, or say how long until it fits (`waitMs` > 0, nothing counted). */
export async function admitQuota(
  redis: Redis,
  keys: Keyspace,
  tenant: string,
  tokens: number,
  now = Date.now(),
): Promise<{ waitMs: number; resource: 'requests' | 'tokens' }> {
  return admitScript(redis, { tenant: keys.tenant(tenant), buckets: keys.quota(tenant) }, { now, tokens });
}
