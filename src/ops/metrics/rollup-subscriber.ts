/**
 * Finished jobs into the queue-wide per-minute rollups (rollups.ts) that the dashboard and
 * `promptq report` read.
 */
import type { EventSource } from '../../events/types.js';
import type { RollupWriter } from './rollups.js';

export function subscribeRollups(events: EventSource, rollups: RollupWriter): void {
  events.on('finished', (e) => rollups.record(e.jobId, e.status, e.record));
}
