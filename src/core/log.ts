/**
 * Structured JSON logging on pino: one line per event on stderr (stdout stays free for command output
 * such as job ids). Secrets registered with {@link Logger.redact} are replaced wherever they appear.
 *
 * A line written while an OpenTelemetry span is active (an API attempt, the processing of a job, an
 * enqueue request) carries that span's `trace_id` and `span_id`, so a log search and a trace find
 * each other. `@opentelemetry/api` is only the API: with no SDK registered there is never an active
 * span and the lookup costs one function call.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { type Logger as Pino, pino } from 'pino';
import { defaults } from './defaults.js';
import type { LogLevel } from './settings.js';

export type { LogLevel };

export type LogSink = (line: string) => void;

/** The active span's ids, in the field names log pipelines (Datadog, Loki, Elastic) correlate on. */
function traceFields(): Record<string, string> {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (ctx === undefined || !isSpanContextValid(ctx)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

function rootLogger(level: LogLevel, sink: LogSink): Pino {
  return pino(
    {
      level,
      base: null,
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
    },
    // pino writes each line whole, synchronously; scrubbing the serialized line catches a secret in
    // any field, however deep.
    { write: (line: string) => sink(Logger.scrub(line.endsWith('\n') ? line.slice(0, -1) : line)) },
  );
}

/**
 * A broken stdout or stderr (`promptq start 2>&1 | tee log`, and the reader died with the same
 * Ctrl-C) must not kill the process before it drains: Node reports EPIPE as an `error` event on
 * the stream, which, unheard, is an uncaught exception. Once a stream fails, writes to it are
 * dropped quietly (nobody can read them) and the process carries on — the signal still drains.
 */
const broken = new WeakSet<NodeJS.WriteStream>();
let guarded = false;

/** Install the guard on stdout and stderr (once per process). */
export function guardStdio(): void {
  if (guarded) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => broken.add(stream));
  }
}

/** Write `text` to stdout or stderr unless it has failed; never throws. */
export function writeStdio(stream: NodeJS.WriteStream, text: string): void {
  guardStdio();
  if (broken.has(stream) || stream.destroyed) return;
  try {
    stream.write(text);
  } catch {
    broken.add(stream);
  }
}

export class Logger {
  static readonly #secrets = new Set<string>();
  readonly #pino: Pino;

  constructor(
    level: LogLevel = defaults.log.level,
    sink: LogSink = (l) => writeStdio(process.stderr, `${l}\n`),
    base: Record<string, unknown> = {},
    /** @internal a child's pino logger. */
    from?: Pino,
  ) {
    const root = from ?? rootLogger(level, sink);
    this.#pino = Object.keys(base).length > 0 ? root.child(base) : root;
  }

  /** Never print `secret` (process-wide: every logger scrubs it). */
  static redact(secret: string | undefined): void {
    if (secret && secret.length >= 8) Logger.#secrets.add(secret);
  }

  /** Replace every registered secret in `text`. */
  static scrub(text: string): string {
    let out = text;
    for (const s of Logger.#secrets) out = out.split(s).join('[redacted]');
    return out;
  }

  child(fields: Record<string, unknown>): Logger {
    return new Logger(undefined, undefined, fields, this.#pino);
  }

  set level(level: LogLevel) {
    this.#pino.level = level;
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.#pino.debug(fields ?? {}, msg);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.#pino.info(fields ?? {}, msg);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.#pino.warn(fields ?? {}, msg);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.#pino.error(fields ?? {}, msg);
  }
}
