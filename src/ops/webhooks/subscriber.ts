/**
 * Webhooks hear the one event source (events/types.ts): a job that completed or failed — run by a
 * live worker or finished through the Message Batches API — and whose request names a receiver
 * (`webhook.url`), or whose tenant has a default one, gets a delivery on the webhook queue. Adding
 * it is a Redis write off the job's path (an observer), never a call to the receiver.
 */
import type { JobRequest } from '../../core/job.js';
import type { EventSource } from '../../events/types.js';
import type { TenantWebhooks } from '../../store/webhook-secrets.js';
import type { WebhookDeliveries, WebhookEvent } from './deliveries.js';

export function subscribeWebhooks(
  events: EventSource,
  deliveries: Pick<WebhookDeliveries, 'enqueue'>,
  tenants: Pick<TenantWebhooks, 'defaultUrl'>,
  unknownTenantMs = 0,
): void {
  const defaultUrl = tenantDefaultUrl(tenants, unknownTenantMs);
  const announce = async (jobId: string, event: WebhookEvent, request: JobRequest | undefined) => {
    if (request === undefined) return;
    const tenant = request.tenant_id ?? null;
    const url = request.webhook?.url ?? (tenant === null ? null : await defaultUrl(tenant));
    if (url === null) return;
    await deliveries.enqueue({ jobId, event, url, tenant });
  };
  events.on('completed', (e) => announce(e.jobId, 'job.completed', e.request));
  events.on('failed', (e) => announce(e.jobId, 'job.failed', e.request));
}

/**
 * A tenant's default receiver. A tenant found to have no record (so no receiver) is remembered for
 * `unknownTenantMs` (`worker.tenantUnknownCacheMs`, as the budgets remember it): its jobs meanwhile
 * finish without a read. A tenant with a record is read for every job, so a receiver set on it
 * applies to the next job that finishes.
 */
function tenantDefaultUrl(
  tenants: Pick<TenantWebhooks, 'defaultUrl'>,
  unknownTenantMs: number,
): (tenant: string) => Promise<string | null> {
  const unknown = new Map<string, number>();
  return async (tenant) => {
    const now = Date.now();
    if ((unknown.get(tenant) ?? 0) > now) return null;
    const { url, exists } = await tenants.defaultUrl(tenant);
    if (exists || unknownTenantMs <= 0) {
      unknown.delete(tenant);
      return url;
    }
    // Bounded: past this many tenants the memory starts over (they are read again).
    if (unknown.size >= 10_000) unknown.clear();
    unknown.set(tenant, now + unknownTenantMs);
    return null;
  };
}
