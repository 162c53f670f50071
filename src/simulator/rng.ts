import { randomBytes } from 'node:crypto';

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * Mulberry32: tiny, fast and good enough for simulated outcomes; seeded so that a test or
 * benchmark run with the same seed sees the same sequence of faults and lengths.
 */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

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
