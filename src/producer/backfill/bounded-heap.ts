/**
 * Keep a long backfill's memory independent of its input size. V8 grows the old generation lazily
 * under a steady stream of short-lived allocations (parsed lines, addBulk arguments), so without
 * help a 100,000-line run ends ~50% larger than a 10,000-line one although it holds no more data.
 * A full collection every few thousand lines (a few ms each on this small heap) keeps the peak flat.
 * `--expose-gc` is switched on at run time, so users need no node flags.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

function gcFunction(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    collect = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** Returns a function to call once per unit of work; it collects every `every` calls. */
export function heapBounder(every: number): () => void {
  let n = 0;
  return () => {
    n += 1;
    if (n % every === 0) gcFunction()?.();
  };
}
