/**
 * Each model group's request pace as the limiter runs it — its announced (or learned) requests per
 * minute × its pace factor (below 1 after 429s) × the target utilisation — written to one Redis
 * hash per queue, so any process (the API alone included) can tell a waiting job its `eta_s`
 * (producer/job-view.ts). Written when the figure moves by more than 1%, or every 5 s at most.
 */
import type { LimiterTuning } from '../../core/settings.js';
import type { EventSource } from '../../events/types.js';
import type { RedisConnection } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';

const refreshMs = 5000;

export function subscribePace(
  events: EventSource,
  o: { connection: RedisConnection; keys: Keyspace; tuning: Pick<LimiterTuning, 'target'> },
): void {
  const groups = new Map<string, { rpm?: number; factor: number; written?: number; at: number }>();
  const write = async (group: string) => {
    const g = groups.get(group);
    if (g?.rpm === undefined) return;
    const perSecond = (g.rpm * g.factor * o.tuning.target) / 60;
    const moved = g.written === undefined || Math.abs(perSecond - g.written) > g.written * 0.01;
    if (!moved && Date.now() - g.at < refreshMs) return;
    g.written = perSecond;
    g.at = Date.now();
    await o.connection.hset(o.keys.pace, group, JSON.stringify({ per_second: perSecond, at: g.at }));
  };
  events.on('groupLimits', (e) => {
    const g = groups.get(e.group) ?? { factor: 1, at: 0 };
    if (e.limits.requests !== undefined) g.rpm = e.limits.requests;
    groups.set(e.group, g);
    return write(e.group);
  });
  events.on('groupPace', (e) => {
    const g = groups.get(e.group) ?? { factor: 1, at: 0 };
    g.factor = e.factor;
    groups.set(e.group, g);
    return write(e.group);
  });
}
