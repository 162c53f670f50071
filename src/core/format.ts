/**
 * How promptq writes numbers for people: counts, money, shares, durations and plain-text tables.
 * One rounding rule each, shared by `promptq report`, `probe`, backfill progress, estimates and
 * summaries, and the benchmark tables. (The dashboard page formats in the browser with the same
 * rules; see ops/dashboard/page.ts.)
 */

/** A count with thousands separators, rounded to a whole number: `12,345`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * US dollars with as many decimals as the amount needs: whole dollars from $100, cents from $1,
 * four decimals below (single calls cost fractions of a cent).
 */
export function formatUsd(v: number): string {
  const a = Math.abs(v);
  return `$${a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(4)}`;
}

/** A share (0.123) as a percentage (`12.3%`); `-` for no value. */
export function formatPercent(share: number | null, decimals = 1): string {
  return share === null ? '-' : `${(share * 100).toFixed(decimals)}%`;
}

/** Milliseconds: `850 ms` below a second, `1.2 s` from there; `-` for no value. */
export function formatMs(ms: number | null): string {
  return ms === null ? '-' : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

/**
 * Control characters (C0, DEL, C1: terminal escapes, newlines, bells) and bidirectional overrides
 * in names users chose (models, tenants, error types, ids).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const unprintable = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `s` safe to print on a terminal: each control or bidi character shown as `\uXXXX` (so a name
 * cannot clear the screen, move the cursor, fake a table row or reverse the text after it).
 */
export function printable(s: string): string {
  return s.replace(unprintable, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A plain-text table: the first column left-aligned, the others right-aligned, a dashed rule under
 * the head. Every cell goes through {@link printable}.
 */
export function textTable(
  head: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
): string {
  const cells = [head, ...rows.map((r) => r.map(String))].map((r) => r.map(printable));
  const width = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(width[i] ?? 0) : c.padStart(width[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(cells[0] ?? []), line(width.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join(
    '\n',
  );
}
