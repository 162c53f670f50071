import type { ServerResponse } from 'node:http';

/** One server-sent event in the real API's framing (`event:` line, one `data:` line, blank line). */
export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Writes one event unless the client has gone away. */
export function writeEvent(res: ServerResponse, event: string, data: unknown): void {
  if (!res.destroyed && !res.writableEnded) res.write(sseEvent(event, data));
}
