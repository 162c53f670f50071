/**
 * Finished jobs into the queue-wide per-minute rollups (rollups.ts) that the dashboard and
 * `promptq report` read.
 */
import type { WorkerEventSource } from '../../worker/events.js';
import type { RollupWriter } from './rollups.js';

export function subscribeRollups(events: WorkerEventSource, rollups: RollupWriter): void {
  events.on('finished', (e) => rollups.record(e.jobId, e.status, e.record));
}
