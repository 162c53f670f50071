/** Tenants' per-minute quotas (lua/quota-admit-2.lua): requests and tokens, shared by all workers. */
import type { RedisConnection as Redis } from './connection.js';
import type { QueueKeys } from './keys.js';
import { script } from './scripts.js';

const admitScript = script('quota-admit-2.lua', ['tenant', 'buckets'], ['now', 'tokens'], (r) => {
  const [wait, resource] = r as [number, string | undefined];
  return {
    waitMs: Number(wait),
    resource: resource === 'tokens' ? ('tokens' as const) : ('requests' as const),
  };
});

/** Count a call against the tenant's quota, or say how long until it fits (`waitMs` > 0, nothing counted). */
export async function admitQuota(
  redis: Redis,
  keys: QueueKeys,
  tenant: string,
  tokens: number,
  now = Date.now(),
): Promise<{ waitMs: number; resource: 'requests' | 'tokens' }> {
  return admitScript(redis, { tenant: keys.tenant(tenant), buckets: keys.quota(tenant) }, { now, tokens });
}
