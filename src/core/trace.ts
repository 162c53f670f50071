/**
 * Trace context for a job, on the OpenTelemetry API only (no SDK): without a registered tracer
 * provider every span is a non-recording no-op and propagation writes nothing, so a process with
 * telemetry off pays a few function calls per job. `src/ops/telemetry/` registers the SDK when the
 * `OTEL_*` variables ask for it.
 *
 * A job carries the trace context it was enqueued in inside its BullMQ options
 * (`opts.telemetry.metadata`, the JSON carrier BullMQ's own telemetry uses), so a worker on any
 * machine continues the same trace.
 */
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

const tracer = trace.getTracer('promptq');

/** Where BullMQ keeps a job's trace context (its `telemetry` job option, stored as `tm`). */
export interface TraceCarrierOpts {
  telemetry?: { metadata?: string | undefined } | undefined;
}

/** The trace context a job was enqueued in, or the active one when it carries none. */
export function jobContext(opts: TraceCarrierOpts): Context {
  const metadata = opts.telemetry?.metadata;
  if (!metadata) return context.active();
  try {
    return propagation.extract(ROOT_CONTEXT, JSON.parse(metadata) as Record<string, string>);
  } catch {
    return context.active();
  }
}

/** The active trace context as job metadata (`opts.telemetry.metadata`), or `undefined` when none. */
export function traceMetadata(ctx: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return Object.keys(carrier).length > 0 ? JSON.stringify(carrier) : undefined;
}

/** Run `fn` in a span that ends when it settles; a throw marks it failed unless `benign` says not. */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context; benign?: (err: unknown) => boolean },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    if (!options.benign?.(err)) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      span.setAttribute('error.type', err instanceof Error ? err.name : 'Error');
    }
    throw err;
  } finally {
    span.end();
  }
}

/** Run `fn` with `span` active (so log lines written in it carry its ids). */
export function withSpan<T>(span: Span | undefined, fn: () => Promise<T>): Promise<T> {
  return span === undefined ? fn() : context.with(trace.setSpan(context.active(), span), fn);
}

export { SpanKind };
