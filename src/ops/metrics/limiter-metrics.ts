/**
 * The limiter's events (events/types.ts): its pace, pauses and limits as metrics, and the facts worth
 * a log line (a group paused, limits discovered or changed).
 */
import type { Logger } from '../../core/log.js';
import { announcedResources } from '../../core/rate-limits.js';
import type { EventSource } from '../../events/types.js';
import type { Metrics } from './metrics.js';

export function subscribeLimiterMetrics(events: EventSource, metrics: Metrics, log: Logger): void {
  events.on('limitSignals', ({ signals }) => {
    for (const resource of announcedResources) {
      const bucket = signals[resource];
      if (bucket) metrics.observeRateLimit(resource, bucket.limit, bucket.remaining);
    }
  });
  events.on('groupPaused', ({ group, reason, pauseMs }) => {
    metrics.limiterPauses.inc({ group, reason });
    log.warn('rate limit: pausing model group', { group, reason, pause_ms: pauseMs });
  });
  events.on('groupLimits', ({ group, limits, before }) => {
    for (const [resource, value] of Object.entries(limits)) {
      metrics.limiterLimit.set({ group, resource }, value);
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
  });
  events.on('groupPace', ({ group, factor }) => metrics.limiterPace.set({ group }, factor));
}
