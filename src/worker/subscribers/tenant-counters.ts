/**
 * Tenant fairness counters (core/fairness.ts): when a job finishes, its tenant's later jobs move up.
 * A failed update only costs that tenant position, so it is logged and the job's outcome stands.
 */

import type { Logger } from '../../core/log.js';
import type { RedisConnection as Redis } from '../../store/connection.js';
import { pendingKey, tenantJobDone } from '../../store/tenant-pending.js';
import type { WorkerEventSource } from '../events.js';

export interface TenantCounterOptions {
  connection: Redis;
  prefix: string;
  queue: string;
  log: Logger;
}

export function subscribeTenantCounters(events: WorkerEventSource, o: TenantCounterOptions): void {
  const key = pendingKey(o.prefix, o.queue);
  events.on('finished', async (e) => {
    try {
      await tenantJobDone(o.connection, key, e.record.tenant_id ?? '');
    } catch (err) {
      o.log.warn('tenant counter update failed', { job_id: e.jobId, error: (err as Error).message });
    }
  });
}
