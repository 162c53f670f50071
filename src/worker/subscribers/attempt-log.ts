/**
 * The worker's log: one structured `api_attempt` line per API attempt (never the key; prompt and
 * completion text only when asked), and the few job facts around it (invalid data, no price for the
 * model, a tenant over budget, a job returned on shutdown, a late result dropped after a lost lock).
 */
import type { Logger } from '../../core/log.js';
import type { AttemptEvent, WorkerEventSource } from '../events.js';

export interface AttemptLogOptions {
  log: Logger;
  /** Log prompt and completion text too (`config.worker.logPrompts`). */
  logPrompts: boolean;
  /** Models without a price named in the log, as many as keep their name in metric labels (`config.labels.maxModels`). */
  maxModelLabels: number;
}

export function subscribeAttemptLog(
  events: WorkerEventSource,
  { log, logPrompts, maxModelLabels }: AttemptLogOptions,
): void {
  // Said once per model and process, for the first models (made-up names cannot grow the set or the
  // log without bound): every call on them is counted in promptq_unpriced_calls_total.
  const unpricedSaid = new Set<string>();
  const maxUnpricedNamed = maxModelLabels;
  events.on('attempt', (e) => {
    const o = e.outcome;
    switch (o.kind) {
      case 'completed': {
        const served = e.record.served_model ?? e.model;
        if (!o.priced && !unpricedSaid.has(served) && unpricedSaid.size <= maxUnpricedNamed) {
          unpricedSaid.add(served);
          if (unpricedSaid.size <= maxUnpricedNamed) {
            log.warn(
              'no known price for model: its cost is recorded as unknown (null); set PROMPTQ_PRICING_FILE',
              {
                job_id: e.jobId,
                model: served,
              },
            );
          } else {
            log.warn(
              `more than ${maxUnpricedNamed} models without a known price: the others are not named (promptq_unpriced_calls_total counts them)`,
              { job_id: e.jobId },
            );
          }
        }
        return line(e, {
          outcome: 'success',
          latency_ms: o.result.latencyMs,
          ttft_ms: o.result.ttftMs,
          stop_reason: o.result.message.stop_reason,
          cost_usd: e.record.cost_usd,
          ...(logPrompts ? { completion: o.result.message.content } : {}),
        });
      }
      case 'rate-limited':
        return line(e, {
          outcome: o.decision.outcome,
          error: o.decision.message,
          retry: 'after the group pause',
        });
      case 'retry':
        return line(e, { outcome: o.decision.outcome, error: o.decision.message, retry_in_ms: o.delayMs });
      case 'failed':
        return line(e, { outcome: o.decision.outcome, error: o.decision.message, final: true });
      case 'spend-limit':
        // The spend-limit pauser says it, loudly.
        return;
    }
  });
  events.on('failed', (e) => {
    if (e.outcome.kind !== 'invalid') return;
    const err = e.outcome.error;
    log.warn('invalid job', { job_id: e.jobId, field: err.field, error: err.message });
  });
  events.on('budget', (e) => {
    const o = e.outcome;
    const r = o.refusal;
    log.warn(o.kind === 'budget-exceeded' ? 'over budget: job failed' : 'over budget: job waits', {
      job_id: e.jobId,
      tenant_id: r.tenant,
      period: r.period,
      budget_usd: r.budgetUsd,
      spent_usd: r.spentUsd,
      held_usd: r.heldUsd,
      cost_usd: r.costUsd,
      ...(o.kind === 'over-budget' ? { retry_in_ms: o.delayMs } : {}),
    });
  });
  events.on('quota', (e) =>
    log.info('over quota: job waits', {
      job_id: e.jobId,
      tenant_id: e.outcome.tenant,
      resource: e.outcome.resource,
      retry_in_ms: e.outcome.delayMs,
    }),
  );
  events.on('returned', (e) => log.info('job returned to the queue (shutdown)', { job_id: e.jobId }));
  // Frequent under load (every job of a paused or busy group): debug.
  events.on('deferred', (e) =>
    log.debug('job deferred: no permit soon for its model group', {
      job_id: e.jobId,
      model: e.model,
      reason: e.reason,
      until: new Date(e.untilMs).toISOString(),
    }),
  );
  // One line per job that finished for good (debug): what a late, dropped result never says.
  events.on('finished', (e) => log.debug('job finished', { job_id: e.jobId, status: e.status }));
  events.on('lockLost', (e) =>
    log.warn('lock lost before finishing: another worker owns the job; dropping this result', {
      job_id: e.jobId,
    }),
  );

  function line({ jobId, record, request }: AttemptEvent, extra: Record<string, unknown>): void {
    log.info('api_attempt', {
      job_id: jobId,
      attempt: record.attempts,
      model: request.model,
      tenant_id: record.tenant_id,
      max_tokens: request.max_tokens,
      input_tokens: record.input_tokens,
      output_tokens: record.output_tokens,
      cache_creation_input_tokens: record.cache_creation_input_tokens,
      cache_read_input_tokens: record.cache_read_input_tokens,
      status_code: record.status_code,
      error_type: record.error_type,
      request_id: record.request_id,
      ...(logPrompts ? { messages: request.messages, system: request.system } : {}),
      ...extra,
    });
  }
}
