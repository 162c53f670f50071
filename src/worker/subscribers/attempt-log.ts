/**
 * The worker's log: one structured `api_attempt` line per API attempt (never the key; prompt and
 * completion text only when asked), and the few job facts around it (invalid data, no price for the
 * model, a job returned on shutdown, a late result dropped after a lost lock).
 */
import type { Logger } from '../../core/log.js';
import type { AttemptEvent, WorkerEventSource } from '../events.js';

export interface AttemptLogOptions {
  log: Logger;
  /** Log prompt and completion text too. */
  logPrompts: boolean;
}

export function subscribeAttemptLog(events: WorkerEventSource, { log, logPrompts }: AttemptLogOptions): void {
  events.on('attempt', (e) => {
    const o = e.outcome;
    switch (o.kind) {
      case 'completed':
        if (!o.priced) {
          log.warn('no price for model; cost recorded as 0 (set PROMPTQ_PRICING_FILE)', {
            job_id: e.jobId,
            model: e.model,
          });
        }
        return line(e, {
          outcome: 'success',
          latency_ms: o.result.latencyMs,
          ttft_ms: o.result.ttftMs,
          ...(logPrompts ? { completion: o.result.message.content } : {}),
        });
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
