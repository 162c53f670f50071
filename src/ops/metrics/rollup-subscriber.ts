/**
 * Finished jobs and API attempts into the queue-wide per-minute rollups (rollups.ts) that the
 * dashboard and `promptq report` read.
 */
import type { EventSource } from '../../events/types.js';
import { accountLabel, type RollupWriter } from './rollups.js';

export function subscribeRollups(events: EventSource, rollups: RollupWriter): void {
  events.on('finished', (e) => rollups.record(e.jobId, e.status, e.record));
  // A shutdown waiting for the listeners does not wait out the linger as well.
  events.onDrain?.(() => rollups.flush());
  // Every API attempt as it gets its answer, classed like `promptq_requests_total`'s `outcome`.
  // And by the account that answered it (provider/account, from the record).
  events.on('attempt', ({ model, outcome: o, record }) =>
    rollups.attempt(
      model,
      o.kind === 'completed' ? 'success' : o.decision.outcome,
      o.kind === 'retry' || o.kind === 'rate_limited',
      Date.now(),
      accountLabel(record),
    ),
  );
}
