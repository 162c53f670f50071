import { randomBytes } from 'node:crypto';

export { type Rng, seededRng } from './seeded-rng.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * `prefix` + `length` random base62 characters, the shape of the real API's ids
 * (`req_011CS…`, `msg_01XF…`). Ids are not seeded: they must be unique across runs.
 */
export function randomId(prefix: string, length = 24): string {
  let out = prefix;
  while (out.length < prefix.length + length) {
    for (const b of randomBytes(length)) {
      // Rejection sampling keeps the characters uniform (248 = 4 * 62).
      if (b < 248 && out.length < prefix.length + length) out += BASE62[b % 62];
    }
  }
  return out;
}
