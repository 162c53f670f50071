/** The approaches compared in every scenario, in table order. */
import { bullmqAttempts, bullmqLimiter, bullmqRunner } from './run-bullmq.js';
import { promptqRunner } from './run-promptq.js';
import { bottleneckRunner, sdkRunner } from './run-sdk.js';
import type { RunContext, Runner } from './types.js';

export const approachIds = ['sdk', 'sdk10', 'bullmq', 'bottleneck', 'promptq'] as const;
export type ApproachId = (typeof approachIds)[number];

/** The static settings a careful user gives an approach in a scenario (see {@link RunContext}). */
export type ApproachSettings = Pick<
  RunContext,
  | 'jobsPerSecond'
  | 'workers'
  | 'groupJobsPerSecond'
  | 'tokensPerSecond'
  | 'requestsPerSecond'
  | 'urgentTenant'
  | 'adaptiveConcurrency'
>;

export interface Approach {
  id: ApproachId;
  /** The table label, with the static settings it was given when it has some. */
  label(settings: ApproachSettings): string;
  runner: Runner;
}

const fmt = (x: number) => String(Math.round(x * 100) / 100);

function bottleneckLabel(s: ApproachSettings): string {
  const per = s.workers > 1 ? ` per process (${s.workers} processes)` : '';
  const groups = s.groupJobsPerSecond;
  const minTime = groups
    ? Object.entries(groups)
        .map(([g, r]) => `${g} ${fmt((1000 * s.workers) / r)} ms`)
        .join(', ')
    : `${fmt((1000 * s.workers) / (s.requestsPerSecond ?? s.jobsPerSecond))} ms`;
  const extras = [
    s.tokensPerSecond !== undefined
      ? `weight = input tokens, reservoir +${fmt(s.tokensPerSecond / s.workers / 4)} per 250 ms`
      : null,
    s.urgentTenant !== undefined ? `priority by tenant` : null,
  ].filter((x) => x !== null);
  return `Bottleneck minTime ${minTime}${per}${extras.length ? `, ${extras.join(', ')}` : ''}`;
}

export const approaches: Record<ApproachId, Approach> = {
  sdk: { id: 'sdk', label: () => 'SDK defaults (2 retries)', runner: sdkRunner(2) },
  sdk10: { id: 'sdk10', label: () => 'SDK with 10 retries', runner: sdkRunner(10) },
  bullmq: {
    id: 'bullmq',
    label: (s) => {
      // Kept in Redis: one limiter for every worker of the queue, at the account's rate.
      const l = bullmqLimiter(s.jobsPerSecond);
      const priority = s.urgentTenant !== undefined ? ', priority by tenant' : '';
      return `BullMQ limiter {max: ${l.max}, duration: ${l.duration}}, attempts ${bullmqAttempts.attempts}${priority}`;
    },
    runner: bullmqRunner,
  },
  bottleneck: { id: 'bottleneck', label: bottleneckLabel, runner: bottleneckRunner },
  promptq: {
    id: 'promptq',
    label: (s) =>
      s.adaptiveConcurrency
        ? 'promptq (no limits or concurrency configured)'
        : 'promptq (no limits configured)',
    runner: promptqRunner,
  },
};
