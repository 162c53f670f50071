/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * Mulberry32: tiny, fast and good enough for simulated outcomes, benchmark workloads and generated
 * test cases; seeded so that a run with the same seed sees the same sequence.
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
