/** Listeners of the events that failed (logged by the emitter), counted: `promptq_event_listener_errors_total`. */
import type { PromptqEvents } from '../../events/emitter.js';
import type { Metrics } from './metrics.js';

export function subscribeEventErrorMetric(events: PromptqEvents, metrics: Metrics): void {
  events.onListenerError((event) => metrics.eventListenerErrors.inc({ event }));
}
