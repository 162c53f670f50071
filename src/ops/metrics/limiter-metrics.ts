/**
 * The limiter's hooks: its pace, pauses and limits as metrics, and the facts worth a log line (a
 * group paused, limits discovered or changed).
 */
import type { Logger } from '../../core/log.js';
import { announcedResources, type Resource } from '../../core/rate-limits.js';
import type { LimiterResource } from '../../limiter/shared-state.js';
import type { LimiterOptions } from '../../limiter/types.js';
import type { Metrics } from './metrics.js';

type LimiterHooks = Required<Pick<LimiterOptions, 'onHeaders' | 'onPause' | 'onLimits' | 'onPace'>>;

/** The limiter's short resource names → the `resource` label. */
const resourceLabel = {
  req: 'requests',
  in: 'input_tokens',
  out: 'output_tokens',
} as const satisfies Record<LimiterResource, Resource>;

export function limiterHooks(metrics: Metrics, log: Logger): LimiterHooks {
  return {
    onHeaders: (_group, snap) => {
      for (const r of announcedResources) {
        const b = snap[r];
        if (b) metrics.observeRateLimit(r, b.limit, b.remaining);
      }
    },
    onPause: (group, reason, ms) => {
      metrics.limiterPauses.inc({ group, reason });
      log.warn('rate limit: pausing model group', { group, reason, pause_ms: ms });
    },
    onLimits: (group, limits, before) => {
      for (const [r, v] of Object.entries(limits)) {
        metrics.limiterLimit.set({ group, resource: resourceLabel[r as keyof typeof resourceLabel] }, v);
      }
      const discovered = Object.keys(before).length === 0;
      log.info(discovered ? 'rate limits discovered' : 'rate limits changed', {
        group,
        rpm: limits.req,
        itpm: limits.in,
        otpm: limits.out,
        ...(discovered ? {} : { before_rpm: before.req, before_itpm: before.in, before_otpm: before.out }),
      });
    },
    onPace: (group, factor) => metrics.limiterPace.set({ group }, factor),
  };
}
