/**
 * The limiter's hooks: its pace, pauses and limits as metrics, and the facts worth a log line (a
 * group paused, limits discovered or changed).
 */
import type { Logger } from '../../core/log.js';
import { announcedResources, type Resource } from '../../core/rate-limits.js';
import type { LimiterOptions } from '../../limiter/types.js';
import type { Metrics } from './metrics.js';

type LimiterHooks = Required<Pick<LimiterOptions, 'onHeaders' | 'onPause' | 'onLimits' | 'onPace'>>;

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
      for (const [resource, limit] of Object.entries(limits) as Array<[Resource, number]>) {
        metrics.limiterLimit.set({ group, resource }, limit);
      }
      const discovered = Object.keys(before).length === 0;
      log.info(discovered ? 'rate limits discovered' : 'rate limits changed', {
        group,
        rpm: limits.requests,
        itpm: limits.input_tokens,
        otpm: limits.output_tokens,
        ...(discovered
          ? {}
          : {
              before_rpm: before.requests,
              before_itpm: before.input_tokens,
              before_otpm: before.output_tokens,
            }),
      });
    },
    onPace: (group, factor) => metrics.limiterPace.set({ group }, factor),
  };
}
