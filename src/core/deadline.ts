/**
 * A job's `deadline` (docs/reference/job.md): an RFC 3339 time, or a duration from enqueue such as
 * `"90s"`, `"15m"`, `"6h"` or `"1d"`. Parsed once, at enqueue, into an absolute time, so that a job
 * read again later (a worker validating a job another client added) keeps the same deadline.
 */

/** Where a job may run: forced (`live`, `batch`) or chosen by promptq from its deadline (`auto`). */
export const routeChoices = ['auto', 'live', 'batch'] as const;
export type RouteChoice = (typeof routeChoices)[number];

const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const durationPattern = /^(\d{1,7})(s|m|h|d)$/;
/** RFC 3339 `date-time`: a full date, a time with seconds, and a zone (`Z` or `±hh:mm`). */
const rfc3339Pattern = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export const deadlineFormat =
  'must be an RFC 3339 time such as "2026-12-07T18:00:00Z" or a duration such as "90s", "15m", "6h" or "1d"';

/** The deadline as milliseconds since the epoch; `null` when `value` is neither form. */
export function parseDeadline(value: string, now: number): number | null {
  const d = durationPattern.exec(value);
  if (d) return now + Number(d[1]) * unitMs[d[2] as keyof typeof unitMs];
  if (!rfc3339Pattern.test(value)) return null;
  const at = Date.parse(value);
  return Number.isFinite(at) ? at : null;
}
