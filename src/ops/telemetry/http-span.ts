/**
 * A SERVER span around an API route, continuing the caller's trace when the request carries
 * `traceparent` (W3C Trace Context): the enqueue and the job it creates then sit in the caller's
 * trace. OpenTelemetry API only: a no-op with telemetry off.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Request } from 'express';

const tracer = trace.getTracer('promptq');

/** `handler` run in a span named `METHOD route`, with the status of its reply (or 500 when it throws). */
export function serverSpan<R extends { status: number }>(
  method: string,
  route: string,
  handler: (req: Request) => Promise<R>,
): (req: Request) => Promise<R> {
  const verb = method.toUpperCase();
  return async (req) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      `${verb} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': verb, 'http.route': route, 'url.path': req.path },
      },
      parent,
    );
    try {
      const reply = await context.with(trace.setSpan(parent, span), () => handler(req));
      span.setAttribute('http.response.status_code', reply.status);
      return reply;
    } catch (err) {
      // The error middleware picks the status; a thrown handler is a client or server error alike.
      span.setAttribute('error.type', err instanceof Error ? err.name : 'Error');
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  };
}
