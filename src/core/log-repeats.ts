/**
 * Repeated errors, collapsed. While Redis is down every connection reports every reconnect attempt;
 * logged one by one that is hundreds of lines a minute and megabytes an hour. The first occurrence
 * of an error is logged at once; the same error again (same level, message and `error` text) is
 * counted, and a summary line with `repeated: N` goes out every interval while it keeps coming.
 * An interval without it forgets it, so the next outage logs its first error at once again.
 *
 * Uses only the Logger's public methods, so any Logger implementation will do.
 */
import { format } from 'node:util';
import type { Logger } from './log.js';

type Level = 'warn' | 'error';

interface Seen {
  level: Level;
  msg: string;
  fields: Record<string, unknown>;
  /** Occurrences since the last line written. */
  since: number;
}

export interface RepeatedLogOptions {
  /** How often a summary of repeats is written (`config.log.repeatIntervalMs`). */
  intervalMs: number;
  /** Distinct errors tracked at once; beyond this they are counted under one entry. @defaultValue `100` */
  maxKinds?: number;
}

export class RepeatedLog {
  readonly #log: Logger;
  readonly #seen = new Map<string, Seen>();
  readonly #maxKinds: number;
  readonly #intervalMs: number;
  readonly #timer: NodeJS.Timeout;

  constructor(log: Logger, opts: RepeatedLogOptions) {
    this.#log = log;
    this.#intervalMs = opts.intervalMs;
    this.#maxKinds = opts.maxKinds ?? 100;
    this.#timer = setInterval(() => this.flush(), this.#intervalMs);
    // A summary timer never keeps a process alive.
    this.#timer.unref();
  }

  warn(msg: string, fields: Record<string, unknown>): void {
    this.#report('warn', msg, fields);
  }

  error(msg: string, fields: Record<string, unknown>): void {
    this.#report('error', msg, fields);
  }

  #report(level: Level, msg: string, fields: Record<string, unknown>): void {
    let key = `${level}\u0000${msg}\u0000${String(fields.error ?? '')}`;
    if (!this.#seen.has(key) && this.#seen.size >= this.#maxKinds) {
      key = `${level}\u0000${msg}\u0000(other errors)`;
      fields = { error: 'other errors' };
    }
    const s = this.#seen.get(key);
    if (s) {
      s.since += 1;
      return;
    }
    this.#seen.set(key, { level, msg, fields, since: 0 });
    this.#log[level](msg, fields);
  }

  /** Write a summary of every error seen again since the last one; forget those not seen. */
  flush(): void {
    for (const [key, s] of this.#seen) {
      if (s.since === 0) {
        this.#seen.delete(key);
        continue;
      }
      this.#log[s.level](`${s.msg} (repeated)`, {
        ...s.fields,
        repeated: s.since,
        interval_ms: this.#intervalMs,
      });
      s.since = 0;
    }
  }

  /** Stop the timer, writing what is pending. */
  close(): void {
    clearInterval(this.#timer);
    this.flush();
  }
}

/**
 * Route `console.warn` and `console.error` through `repeats`: a library that prints (the Anthropic
 * SDK warns about a deprecated model on every call; BullMQ and ioredis print errors) then writes one
 * JSON line, its repeats collapsed, instead of raw multi-line text on stderr. Returns the undo.
 */
export function captureConsole(repeats: RepeatedLog): () => void {
  const { warn, error } = console;
  console.warn = (...args: unknown[]) =>
    repeats.warn('a library wrote to the console', { error: format(...args) });
  console.error = (...args: unknown[]) =>
    repeats.error('a library wrote to the console', { error: format(...args) });
  return () => {
    console.warn = warn;
    console.error = error;
  };
}
