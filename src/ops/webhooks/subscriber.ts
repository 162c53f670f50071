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
  tenants: Pick<TenantWebhooks, 'get'>,
): void {
  const announce = async (jobId: string, event: WebhookEvent, request: JobRequest | undefined) => {
    if (request === undefined) return;
    const tenant = request.tenant_id ?? null;
    const url = request.webhook?.url ?? (tenant === null ? null : (await tenants.get(tenant)).url);
    if (url === null) return;
    await deliveries.enqueue({ jobId, event, url, tenant });
  };
  events.on('completed', (e) => announce(e.jobId, 'job.completed', e.request));
  events.on('failed', (e) => announce(e.jobId, 'job.failed', e.request));
}
