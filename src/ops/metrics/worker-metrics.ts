/**
 * The worker's metrics: every counter and histogram a worker moves, from its events. Nothing else in
 * the worker calls prom-client.
 */
import { modelGroup } from '../../core/models.js';
import type { EventSource } from '../../events/types.js';
import type { Metrics } from './metrics.js';

export function subscribeWorkerMetrics(events: EventSource, m: Metrics): void {
  // Every `model` label is bounded like `tenant` (metrics.ts).
  events.on('started', (e) => {
    m.queueWait.observe({ model: m.modelLabel(e.model) }, (e.record.queue_wait_ms ?? 0) / 1000);
  });

  events.on('attempt', ({ model: name, record, outcome: o, attemptModel }) => {
    if (o.kind === 'completed') {
      // The model that answered (a fallback model, when the job moved to one).
      const model = m.modelLabel(record.served_model ?? name);
      const r = o.result;
      m.requests.inc({ model, status_code: String(r.statusCode), outcome: 'success' });
      m.stopReasons.inc({ model, stop_reason: r.message.stop_reason ?? 'none' });
      if (!o.priced) m.unpriced.inc({ model: m.modelLabel(r.message.model || name) });
      if (r.latencyMs !== null) m.requestDuration.observe({ model, outcome: 'success' }, r.latencyMs / 1000);
      if (r.ttftMs !== null) m.ttft.observe({ model }, r.ttftMs / 1000);
      if (r.network) m.observeNetwork(model, r.network);
      return;
    }
    // The model this attempt called and that answered it (a fallback model's own failures are its
    // own), not the job's first model nor the next one a fallback has just moved to.
    const model = m.modelLabel(attemptModel ?? record.served_model ?? name);
    const d = o.decision;
    m.requests.inc({
      model,
      status_code: d.statusCode === null ? 'none' : String(d.statusCode),
      outcome: d.outcome,
    });
    if (o.kind === 'rate_limited' || o.kind === 'retry') m.retries.inc({ model, reason: d.reason });
  });

  events.on('completed', ({ model: name, record, request }) => {
    // Tokens and cost under the model that served them, not the job's first model.
    const model = m.modelLabel(record.served_model ?? name);
    const tenant = m.tenantLabel(request.tenant_id);
    m.tokens.inc({ model, tenant, type: 'input' }, record.input_tokens);
    m.tokens.inc({ model, tenant, type: 'output' }, record.output_tokens);
    m.tokens.inc({ model, tenant, type: 'cache_creation' }, record.cache_creation_input_tokens);
    m.tokens.inc({ model, tenant, type: 'cache_read' }, record.cache_read_input_tokens);
    const c = record.cost;
    if (c) {
      // Records written before routes existed ran live.
      const route = record.route ?? 'live';
      const cost = (type: string, usd: number) => m.cost.inc({ model, tenant, type, route }, usd);
      cost('input', c.input);
      cost('output', c.output);
      cost('cache_write_5m', c.cache_write_5m);
      cost('cache_write_1h', c.cache_write_1h);
      cost('cache_read', c.cache_read);
      cost('server_tools', c.server_tools);
    }
    m.jobs.inc({ status: 'completed' });
    m.jobDuration.observe({ model, status: 'completed' }, (record.total_ms ?? 0) / 1000);
  });

  events.on('failed', ({ model: name, record }) => {
    const model = m.modelLabel(name);
    m.jobs.inc({ status: 'failed' });
    m.jobDuration.observe({ model, status: 'failed' }, (record.total_ms ?? 0) / 1000);
  });

  events.on('budget', ({ outcome }) => {
    m.budgetRejections.inc({ tenant: m.tenantLabel(outcome.refusal.tenant) });
  });

  // A job whose model group had no permit soon went back to the queue (no attempt spent).
  events.on('deferred', ({ model, reason }) => m.limiterDeferrals.inc({ group: modelGroup(model), reason }));

  // The whole queue paused: counted with the limiter's group pauses.
  events.on('spendLimit', () => m.limiterPauses.inc({ group: 'queue', reason: 'spend_limit' }));
}
