/**
 * Deterministic job ids, so that running the same backfill twice adds nothing twice and a re-run
 * after an interruption adds only what is missing.
 *
 * - A line's own `id` (job body) or `custom_id` (Batches format) is the job id when it is a valid
 *   job id (`[A-Za-z0-9_-]{1,128}`, prefix included), else a hash of it.
 * - A line with neither gets a hash of its line number and its exact text. The file's path and
 *   mtime are deliberately not part of it: copying, touching or piping the same file through stdin
 *   must not start the work over. Two different files share an id only where the very same request
 *   sits on the very same line; `--id-prefix` separates runs that must not share jobs.
 */
import { createHash } from 'node:crypto';
import { jobIdPattern } from '../../core/job-schema.js';

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 32);
}

/** `--id-prefix run2` → `run2-`: a prefix ending in neither `-` nor `_` gets a `-` before the id. */
export function joinedPrefix(prefix: string): string {
  return prefix === '' || /[-_]$/.test(prefix) ? prefix : `${prefix}-`;
}

/** The job id for a line. `prefixGiven` (may be empty) namespaces a run, separated by `-` (joinedPrefix). */
export function backfillJobId(
  prefixGiven: string,
  line: number,
  text: string,
  given: { id?: string | undefined; customId?: string | undefined },
): string {
  const prefix = joinedPrefix(prefixGiven);
  const key = given.id ?? given.customId;
  if (key !== undefined) {
    const candidate = prefix + key;
    return jobIdPattern.test(candidate) ? candidate : `${prefix}cid-${digest(key)}`;
  }
  return `${prefix}bf-${digest(`${line}\n${text}`)}`;
}
