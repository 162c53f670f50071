/**
 * Structured JSON logging: one line per event on stderr (stdout stays free for command output such
 * as job ids). Secrets registered with {@link Logger.redact} are replaced wherever they appear.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogSink = (line: string) => void;

export class Logger {
  static readonly #secrets = new Set<string>();
  #level: LogLevel;
  readonly #sink: LogSink;
  readonly #base: Record<string, unknown>;

  constructor(level: LogLevel = 'info', sink: LogSink = (l) => process.stderr.write(`${l}\n`), base = {}) {
    this.#level = level;
    this.#sink = sink;
    this.#base = base;
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
    return new Logger(this.#level, this.#sink, { ...this.#base, ...fields });
  }

  set level(level: LogLevel) {
    this.#level = level;
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.#write('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.#write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.#write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.#write('error', msg, fields);
  }

  #write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (rank[level] < rank[this.#level]) return;
    const line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...this.#base, ...fields });
    this.#sink(Logger.scrub(line));
  }
}
