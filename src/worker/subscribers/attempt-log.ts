/**
 * The worker's log: one structured `api_attempt` line per API attempt (never the key; prompt and
 * completion text only when asked), and the few job facts around it (invalid data, no price for the
 * model, a tenant over budget, a job returned on shutdown, a late result dropped after a lost lock).
 */
import type { Logger } from '../../core/log.js';
import type { AttemptEvent, EventSource } from '../../events/types.js';

export interface AttemptLogOptions {
  log: Logger;
  /** Log prompt and completion text too (`config.worker.logPrompts`). */
  logPrompts: boolean;
  /** Models without a price named in the log, as many as keep their name in metric labels (`config.labels.maxModels`). */
  maxModelLabels: number;
}

export function subscribeAttemptLog(events: EventSource, options: AttemptLogOptions): void {
  const { log } = options;
  subscribeAttemptLines(events, options);
  events.on('failed', (e) => {
    if (e.outcome.kind !== 'invalid') return;
    const err = e.outcome.error;
    log.warn('invalid job', { job_id: e.jobId, field: err.field, error: err.message });
  });
  events.on('budget', ({ jobId, outcome }) => {
    const refusal = outcome.refusal;
    log.warn(outcome.kind === 'budget_exceeded' ? 'over budget: job failed' : 'over budget: job waits', {
      job_id: jobId,
      tenant_id: refusal.tenant,
      period: refusal.period,
      budget_usd: refusal.budgetUsd,
      spent_usd: refusal.spentUsd,
      held_usd: refusal.heldUsd,
      cost_usd: refusal.costUsd,
      ...(outcome.kind === 'over_budget' ? { retry_in_ms: outcome.delayMs } : {}),
    });
  });
  events.on('quota', ({ jobId, outcome }) =>
    log.info('over quota: job waits', {
      job_id: jobId,
      tenant_id: outcome.tenant,
      resource: outcome.resource,
      retry_in_ms: outcome.delayMs,
    }),
  );
  subscribeJobFacts(events, log);
}

/** One `api_attempt` line per attempt; the first calls of an unpriced model say so. */
function subscribeAttemptLines(
  events: EventSource,
  { log, logPrompts, maxModelLabels }: AttemptLogOptions,
): void {
  const sayUnpriced = unpricedWarning(log, maxModelLabels);
  events.on('attempt', (e) => {
    const outcome = e.outcome;
    switch (outcome.kind) {
      case 'completed': {
        if (!outcome.priced) sayUnpriced(e.record.served_model ?? e.model, e.jobId);
        const message = outcome.result.message;
        return line(e, {
          outcome: 'success',
          latency_ms: outcome.result.latencyMs,
          ttft_ms: outcome.result.ttftMs,
          stop_reason: message.stop_reason,
          cost_usd: e.record.cost_usd,
          ...(logPrompts ? { completion: message.content } : {}),
        });
      }
      case 'rate_limited':
        return line(e, {
          outcome: outcome.decision.outcome,
          error: outcome.decision.message,
          retry: 'after the group pause',
        });
      case 'retry':
        return line(e, {
          outcome: outcome.decision.outcome,
          error: outcome.decision.message,
          retry_in_ms: outcome.delayMs,
        });
      case 'failed':
        return line(e, { outcome: outcome.decision.outcome, error: outcome.decision.message, final: true });
      case 'spend_limit':
        // The spend-limit pauser says it, loudly.
        return;
    }
  });

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
      provider: record.provider,
      account: record.account,
      ...(logPrompts ? { messages: request.messages, system: request.system } : {}),
      ...extra,
    });
  }
}

/**
 * Said once per model and process, for the first models (made-up names cannot grow the set or the
 * log without bound): every call on them is counted in promptq_unpriced_calls_total.
 */
function unpricedWarning(log: Logger, maxNamed: number): (model: string, jobId: string) => void {
  const said = new Set<string>();
  return (model, jobId) => {
    if (said.has(model) || said.size > maxNamed) return;
    said.add(model);
    if (said.size <= maxNamed) {
      log.warn('no known price for model: its cost is recorded as unknown (null); set PROMPTQ_PRICING_FILE', {
        job_id: jobId,
        model,
      });
    } else {
      log.warn(
        `more than ${maxNamed} models without a known price: the others are not named (promptq_unpriced_calls_total counts them)`,
        { job_id: jobId },
      );
    }
  };
}

/** The job facts without an API answer: returned, deferred, finished, a lock lost. */
function subscribeJobFacts(events: EventSource, log: Logger): void {
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
}
