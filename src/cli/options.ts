/**
 * Flag values shared by every command: one parser for whole numbers, so each command states only
 * its bounds and every bad value gets the same one-line reason.
 */
import { UsageError } from '../core/errors.js';

export interface WholeNumberBounds {
  min?: number;
  max?: number;
  /** Replaces the standard reason (kept where a command's reason is already relied on). */
  message?: string;
}

/** Parse `--flag` as a whole number within bounds; throws {@link UsageError} naming the flag. */
export function parseWholeNumber(flag: string, raw: string, bounds: WholeNumberBounds = {}): number {
  const reason = (standard: string) => new UsageError(`--${flag}: ${bounds.message ?? standard}`);
  if (!/^\d+$/.test(raw)) throw reason(`expected a whole number, got "${raw}"`);
  const n = Number(raw);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (n < min || n > max) throw reason(`must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** The same as a commander option parser: `.option('--jobs <N>', '…', wholeNumber('jobs', {min: 1}))`. */
export function wholeNumber(flag: string, bounds: WholeNumberBounds = {}): (raw: string) => number {
  return (raw) => parseWholeNumber(flag, raw, bounds);
}

/** `--id-prefix`: 1-64 characters from A-Z a-z 0-9 _ - (it becomes part of job ids). */
export function idPrefix(raw: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw))
    throw new UsageError('--id-prefix: use 1-64 characters from A-Z a-z 0-9 _ -');
  return raw;
}

/** `--flag` as one of a few words. */
export function oneOf<const W extends string>(flag: string, words: readonly W[]): (raw: string) => W {
  return (raw) => {
    if (!(words as readonly string[]).includes(raw))
      throw new UsageError(`--${flag}: expected ${words.join(', ')}, got "${raw}"`);
    return raw as W;
  };
}

/** `--flag` as a duration (`90s`, `30m`, `6h`, `2d`, or plain seconds) → seconds. */
export function duration(flag: string): (raw: string) => number {
  const unit: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };
  return (raw) => {
    const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(raw);
    const n = m ? Number(m[1]) * (unit[m[2] ?? ''] ?? 1) : Number.NaN;
    if (!(n > 0)) throw new UsageError(`--${flag}: expected a duration such as 90m or 6h, got "${raw}"`);
    return n;
  };
}
