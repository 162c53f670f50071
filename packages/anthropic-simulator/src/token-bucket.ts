/**
 * Token-bucket arithmetic with continuous refill, as pure functions of an explicit clock so the
 * rate-limit behaviour can be unit-tested without waiting.
 *
 * Anthropic documents its limits as token buckets that refill continuously up to the per-minute
 * maximum (not fixed one-minute windows), which is what these functions model.
 */

/** Shape of one bucket: how much it holds and how fast it refills. */
export interface BucketSpec {
  /** Maximum level (the per-interval limit). */
  readonly capacity: number;
  /** Units added per millisecond. */
  readonly refillPerMs: number;
}

/** A bucket's level as of a moment; the level at a later time is derived, never stored. */
export interface BucketState {
  /** Units available at `at` (may be negative after an overdraft or a forced charge). */
  readonly level: number;
  /** Clock reading (ms) the level refers to. */
  readonly at: number;
}

/**
 * The spec for a limit of `limit` units per minute, with a capacity covering `intervalSeconds`
 * (60 for the announced per-minute bucket; e.g. 1 for the hidden short-interval guard).
 */
export function bucketSpec(limit: number, intervalSeconds = 60): BucketSpec {
  return { capacity: (limit * intervalSeconds) / 60, refillPerMs: limit / 60_000 };
}

/** A bucket that is full at `now`. */
export function fullBucket(spec: BucketSpec, now: number): BucketState {
  return { level: spec.capacity, at: now };
}

/** A bucket that is empty at `now` (benchmarks start cold so the first minute is not a free burst). */
export function emptyBucket(_spec: BucketSpec, now: number): BucketState {
  return { level: 0, at: now };
}

/** Level at `now`: the stored level plus the refill since, capped at capacity. */
export function levelAt(state: BucketState, spec: BucketSpec, now: number): number {
  // A clock that steps backwards must not drain the bucket.
  const elapsed = Math.max(0, now - state.at);
  return Math.min(spec.capacity, state.level + elapsed * spec.refillPerMs);
}

/** The state re-expressed at `now` (refill applied). */
export function refill(state: BucketState, spec: BucketSpec, now: number): BucketState {
  return { level: levelAt(state, spec, now), at: Math.max(now, state.at) };
}

/**
 * Milliseconds until `amount` units are available (0 when available now).
 * `Infinity` when `amount` exceeds capacity or the bucket never refills.
 */
export function msUntilAvailable(state: BucketState, spec: BucketSpec, amount: number, now: number): number {
  const level = levelAt(state, spec, now);
  // Tolerance for float drift, so a caller that waits exactly the reported time is admitted.
  if (level >= amount - 1e-9 * Math.max(1, amount)) return 0;
  if (amount > spec.capacity || spec.refillPerMs <= 0) return Number.POSITIVE_INFINITY;
  return (amount - level) / spec.refillPerMs;
}

/** Milliseconds until the bucket is back to full capacity (0 when full). */
export function msUntilFull(state: BucketState, spec: BucketSpec, now: number): number {
  const level = levelAt(state, spec, now);
  if (level >= spec.capacity) return 0;
  if (spec.refillPerMs <= 0) return Number.POSITIVE_INFINITY;
  return (spec.capacity - level) / spec.refillPerMs;
}

/** Removes `amount` unconditionally (the level may go negative); callers check availability first. */
export function take(state: BucketState, spec: BucketSpec, amount: number, now: number): BucketState {
  return { level: levelAt(state, spec, now) - amount, at: Math.max(now, state.at) };
}

/** Returns `amount` to the bucket (e.g. unused output tokens), never above capacity. */
export function give(state: BucketState, spec: BucketSpec, amount: number, now: number): BucketState {
  return { level: Math.min(spec.capacity, levelAt(state, spec, now) + amount), at: Math.max(now, state.at) };
}

/** Result of {@link tryTake}. */
export type TakeResult = { ok: true; state: BucketState } | { ok: false; waitMs: number };

/**
 * Takes `amount` if available now, else reports how long to wait.
 *
 * With `overdraft`, a request larger than the whole capacity is admitted once the bucket is full
 * and leaves it negative: the hidden short-interval guard needs this, because its capacity
 * (limit/60 per second) is often smaller than one ordinary prompt.
 */
export function tryTake(
  state: BucketState,
  spec: BucketSpec,
  amount: number,
  now: number,
  overdraft = false,
): TakeResult {
  const needed = overdraft ? Math.min(amount, spec.capacity) : amount;
  const waitMs = msUntilAvailable(state, spec, needed, now);
  if (waitMs > 0) return { ok: false, waitMs };
  return { ok: true, state: take(state, spec, amount, now) };
}
