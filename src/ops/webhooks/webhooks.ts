/**
 * Webhooks in a process that runs a worker (`promptq start`, `promptq worker`): the observer that
 * adds deliveries (subscriber.ts) and the delivery worker (deliverer.ts) on the webhook queue.
 */
import type { PromptqConfig } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import type { PromptqEvents } from '../../events/emitter.js';
import type { AddressPolicy } from '../../events/webhooks/address-guard.js';
import type { PromptQueue } from '../../producer/queue.js';
import type { RedisConnection } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';
import { TenantWebhooks } from '../../store/webhook-secrets.js';
import { subscribeStreams } from '../streams/recorder.js';
import { startDeliverer } from './deliverer.js';
import { WebhookDeliveries } from './deliveries.js';
import { subscribeWebhooks } from './subscriber.js';

export interface RunningWebhooks {
  deliveries: WebhookDeliveries;
  close(force?: boolean): Promise<void>;
}

export function startWebhooks(o: {
  queue: PromptQueue;
  config: PromptqConfig;
  events: PromptqEvents;
  policy: AddressPolicy;
  log: Logger;
}): RunningWebhooks {
  const { queue, config } = o;
  const deliveries = new WebhookDeliveries(queue.connection, queue.keys, config.webhooks, {
    completed: config.jobs.keepCompletedSeconds,
    failed: config.jobs.keepFailedSeconds,
  });
  const tenants = new TenantWebhooks(queue.connection, queue.keys, config.webhooks);
  subscribeWebhooks(o.events, deliveries, tenants, config.worker.tenantUnknownCacheMs);
  const deliverer = startDeliverer({ queue, config, tenants, policy: o.policy, log: o.log });
  return {
    deliveries,
    async close(force = false) {
      await deliverer.close(force);
      if (!force) await deliveries.close();
    },
  };
}

/**
 * For a process that finishes jobs without running the delivery worker (`promptq backfill --via
 * batches`): its finished jobs get their deliveries queued — a `promptq start|worker` delivers them
 * — and their state changes recorded for event streams, as a live worker's are.
 */
export function subscribeJobNotifications(
  events: PromptqEvents,
  o: { connection: RedisConnection; keys: Keyspace; config: PromptqConfig },
): { close(): Promise<void> } {
  const { connection, keys, config } = o;
  const deliveries = new WebhookDeliveries(connection, keys, config.webhooks, {
    completed: config.jobs.keepCompletedSeconds,
    failed: config.jobs.keepFailedSeconds,
  });
  subscribeWebhooks(
    events,
    deliveries,
    new TenantWebhooks(connection, keys, config.webhooks),
    config.worker.tenantUnknownCacheMs,
  );
  subscribeStreams(events, { connection, keys, config: config.streams });
  return { close: () => deliveries.close() };
}
