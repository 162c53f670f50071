/** The approaches compared in every scenario, in table order. */
import { bullmqAttempts, bullmqLimiter, bullmqRunner } from './run-bullmq.js';
import { promptqRunner } from './run-promptq.js';
import { bottleneckRunner, sdkRunner } from './run-sdk.js';
import type { Runner } from './types.js';

export const approachIds = ['sdk', 'sdk10', 'bullmq', 'bottleneck', 'promptq'] as const;
export type ApproachId = (typeof approachIds)[number];

export interface Approach {
  id: ApproachId;
  /**
   * The table label, with the static setting it was given when it has one (`jobsPerSecond` for the
   * account, `workers` processes sharing it, per-family rates when the families have their own).
   */
  label(jobsPerSecond: number, workers: number, groups?: Record<string, number>): string;
  runner: Runner;
}

const fmt = (x: number) => String(Math.round(x * 100) / 100);

export const approaches: Record<ApproachId, Approach> = {
  sdk: { id: 'sdk', label: () => 'SDK defaults (2 retries)', runner: sdkRunner(2) },
  sdk10: { id: 'sdk10', label: () => 'SDK with 10 retries', runner: sdkRunner(10) },
  bullmq: {
    id: 'bullmq',
    label: (jps) => {
      // Kept in Redis: one limiter for every worker of the queue, at the account's rate.
      const l = bullmqLimiter(jps);
      return `BullMQ limiter {max: ${l.max}, duration: ${l.duration}}, attempts ${bullmqAttempts.attempts}`;
    },
    runner: bullmqRunner,
  },
  bottleneck: {
    id: 'bottleneck',
    label: (jps, workers, groups) => {
      const per = workers > 1 ? ` per process (${workers} processes)` : '';
      if (groups) {
        const each = Object.entries(groups).map(([g, r]) => `${g} ${fmt((1000 * workers) / r)} ms`);
        return `Bottleneck minTime ${each.join(', ')}${per}`;
      }
      return `Bottleneck minTime ${fmt((1000 * workers) / jps)} ms${per}`;
    },
    runner: bottleneckRunner,
  },
  promptq: { id: 'promptq', label: () => 'promptq (no limits configured)', runner: promptqRunner },
};
