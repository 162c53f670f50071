/**
 * Progress on stderr: a bar redrawn in place on a terminal, plain lines every few seconds
 * otherwise (logs and CI keep a readable history instead of a wall of carriage returns).
 */
import { formatCount, formatUsd } from '../../core/format.js';

export interface ProgressState {
  /** `validate`, `enqueue` or `wait`. */
  phase: string;
  done: number;
  total: number;
  failed?: number;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  /** Named counts shown after the bar's numbers (Message Batches: submitted, processing, …). */
  counts?: Record<string, number>;
}

export interface ProgressOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force the TTY bar on or off. @defaultValue whether `stream` is a TTY */
  tty?: boolean;
  /** Plain mode: at most one line per this many ms. @defaultValue `5000` */
  intervalMs?: number;
  /** TTY mode: at most one redraw per this many ms. @defaultValue `200` */
  redrawMs?: number;
}

function duration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  if (sec < 60) return `${Math.ceil(sec)}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(Math.ceil(sec % 60)).padStart(2, '0')}s`;
  return `${Math.floor(sec / 3600)}h${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}m`;
}

export class Progress {
  readonly #stream: NonNullable<ProgressOptions['stream']>;
  readonly #tty: boolean;
  readonly #interval: number;
  #phase = '';
  #phaseStart = 0;
  #last = 0;
  #drawn = false;
  #lastKey = '';

  constructor(opts: ProgressOptions = {}) {
    this.#stream = opts.stream ?? process.stderr;
    this.#tty = opts.tty ?? this.#stream.isTTY === true;
    this.#interval = this.#tty ? (opts.redrawMs ?? 200) : (opts.intervalMs ?? 5000);
  }

  /** The text of one progress line (no bar). */
  static line(s: ProgressState, elapsedMs: number): string {
    const rate = elapsedMs > 0 ? s.done / (elapsedMs / 1000) : 0;
    const pct = s.total > 0 ? Math.floor((100 * s.done) / s.total) : 100;
    const eta = rate > 0 ? (s.total - s.done) / rate : Number.POSITIVE_INFINITY;
    const parts = [`${s.phase} ${formatCount(s.done)}/${formatCount(s.total)} (${pct}%)`];
    if (s.counts !== undefined)
      parts.push(
        Object.entries(s.counts)
          .map(([k, v]) => `${k} ${formatCount(v)}`)
          .join(' '),
      );
    if (s.failed !== undefined) parts.push(`${formatCount(s.failed)} failed`);
    parts.push(
      `${rate >= 10 ? formatCount(rate) : rate.toFixed(1)}/s`,
      `ETA ${s.done >= s.total ? '0s' : duration(eta)}`,
    );
    if (s.inputTokens !== undefined)
      parts.push(`tokens ${formatCount(s.inputTokens)} in ${formatCount(s.outputTokens ?? 0)} out`);
    if (s.costUsd !== undefined) parts.push(formatUsd(s.costUsd));
    return parts.join('  ');
  }

  /** Start timing a phase (rates and ETAs count from here). */
  begin(phase: string): void {
    this.#finishLine();
    this.#phase = phase;
    this.#phaseStart = Date.now();
    this.#last = 0;
    this.#lastKey = '';
  }

  /** Report progress; drawn only when the interval has passed (always on a phase change). */
  update(s: ProgressState, force = false): void {
    const now = Date.now();
    if (s.phase !== this.#phase) this.begin(s.phase);
    const key = `${s.done}/${s.total}/${s.failed}/${JSON.stringify(s.counts ?? null)}`;
    // A forced draw of what is already on screen would only repeat it.
    if (force ? key === this.#lastKey : now - this.#last < this.#interval) return;
    this.#last = now;
    this.#lastKey = key;
    const text = Progress.line(s, now - this.#phaseStart);
    if (!this.#tty) {
      this.#stream.write(`${text}\n`);
      return;
    }
    const width = 24;
    const filled = s.total > 0 ? Math.min(width, Math.round((width * s.done) / s.total)) : width;
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    const cols = this.#stream.columns ?? 120;
    this.#stream.write(`\r\x1b[2K${`${bar} ${text}`.slice(0, cols - 1)}`);
    this.#drawn = true;
  }

  /** Draw the final state of a phase and end its line. */
  done(s: ProgressState): void {
    this.update(s, true);
    this.#finishLine();
  }

  #finishLine(): void {
    if (this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }
}
