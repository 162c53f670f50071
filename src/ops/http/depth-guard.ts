/**
 * Nesting checked before parsing. `JSON.parse` of a 4 MB `[[[[…` builds millions of arrays before
 * the job validator (core/job.ts, nesting ≤ 32) can say no; ten such bodies in parallel used to
 * stall the process for seconds and take close to a gigabyte. This scan of the raw bytes is
 * linear, allocates nothing, and refuses bodies nested far beyond what any valid job has (twice the
 * validator's limit, so every body the validator would judge still reaches it and gets its
 * field-naming message).
 */
import { HttpError } from './errors.js';

/** Raw nesting refused before parsing (a valid job nests at most 32 levels). */
export const maxRawDepth = 64;

const quote = 0x22;
const backslash = 0x5c;
const open = new Set([0x5b, 0x7b]); // [ {
const close = new Set([0x5d, 0x7d]); // ] }

/** body-parser's `verify` hook: throws before `JSON.parse` when `buf` nests deeper than {@link maxRawDepth}. */
export function checkRawDepth(_req: unknown, _res: unknown, buf: Buffer): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i] as number;
    if (inString) {
      if (c === backslash) i++;
      else if (c === quote) inString = false;
    } else if (c === quote) inString = true;
    else if (open.has(c)) {
      depth++;
      if (depth > maxRawDepth)
        throw new HttpError('invalid_request', `body: nested more than ${maxRawDepth} levels deep`);
    } else if (close.has(c)) depth--;
  }
}
