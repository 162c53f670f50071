/**
 * A SERVER span around an API route, continuing the caller's trace when the request carries
 * `traceparent` (W3C Trace Context): the enqueue and the job it creates then sit in the caller's
 * trace. OpenTelemetry API only: a no-op with telemetry off.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Request } from 'express';

const tracer = trace.getTracer('promptq');

/**
 * `handler` run in a span named `METHOD route`, with the status of its reply. A thrown handler gets
 * the status `statusOf` gives its error (the error middleware's), and only a 5xx marks the span
 * failed, as the HTTP conventions say for servers.
 */
export function serverSpan<R extends { status: number }>(
  method: string,
  route: string,
  handler: (req: Request) => Promise<R>,
  statusOf: (err: unknown) => number,
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
      const status = statusOf(err);
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      throw err;
    } finally {
      span.end();
    }
  };
}
