/**
 * Which account served each call: `promptq_account_requests_total{provider, account, outcome}`.
 * Both labels are bounded: the accounts come from the accounts file (at most 64), never from a job.
 */
import type { EventSource } from '../../events/types.js';
import type { Metrics } from './metrics.js';

export function subscribeAccountMetrics(events: EventSource, m: Metrics): void {
  events.on('attempt', ({ record, outcome }) => {
    // A call no account could serve went nowhere: not an account's request.
    if (record.provider === null || record.provider === 'none') return;
    m.accountRequests.inc({
      provider: record.provider,
      account: record.account ?? 'default',
      outcome: outcome.kind === 'completed' ? 'success' : outcome.decision.outcome,
    });
  });
}
