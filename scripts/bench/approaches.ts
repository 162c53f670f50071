/** The approaches compared in every scenario, in table order. */
import { bullmqLimiter, bullmqRunner } from './run-bullmq.js';
import { promptqRunner } from './run-promptq.js';
import { bottleneckRunner, sdkRunner } from './run-sdk.js';
import type { Runner } from './types.js';

export const approachIds = ['sdk', 'sdk10', 'bullmq', 'bottleneck', 'promptq'] as const;
export type ApproachId = (typeof approachIds)[number];

export interface Approach {
  id: ApproachId;
  /** The table label, with the static setting it was given when it has one. */
  label(jobsPerSecond: number): string;
  runner: Runner;
}

const fmt = (x: number) => String(Math.round(x * 100) / 100);

export const approaches: Record<ApproachId, Approach> = {
  sdk: { id: 'sdk', label: () => 'SDK defaults (2 retries)', runner: sdkRunner(2) },
  sdk10: { id: 'sdk10', label: () => 'SDK with 10 retries', runner: sdkRunner(10) },
  bullmq: {
    id: 'bullmq',
    label: (jps) => {
      const l = bullmqLimiter(jps);
      return `BullMQ limiter {max: ${l.max}, duration: ${l.duration}}`;
    },
    runner: bullmqRunner,
  },
  bottleneck: {
    id: 'bottleneck',
    label: (jps) => `Bottleneck minTime ${fmt(1000 / jps)} ms`,
    runner: bottleneckRunner,
  },
  promptq: { id: 'promptq', label: () => 'promptq (no limits configured)', runner: promptqRunner },
};
