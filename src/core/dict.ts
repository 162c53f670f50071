/**
 * Records keyed by user strings (model names, tenant ids, error types). A plain `{}` has
 * `__proto__`, `constructor` and `toString` already, so `rec[name]` may find Object.prototype's
 * members and `rec.__proto__ = …` replaces the prototype. These records have no prototype at all;
 * they serialise with `JSON.stringify` like any object.
 */

/** An empty record with no prototype: every key is the caller's own. */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** `rec[key]` when `rec` has it as an own property, else `undefined` (never an inherited member). */
export function own<T>(rec: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** `rec[key]`, created by `make` when missing (an own property even for `__proto__`). */
export function entry<T>(rec: Record<string, T>, key: string, make: () => T): T {
  if (Object.hasOwn(rec, key)) return rec[key] as T;
  const v = make();
  Object.defineProperty(rec, key, { value: v, enumerable: true, writable: true, configurable: true });
  return v;
}
