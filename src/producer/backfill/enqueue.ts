/**
 * The enqueue pass: valid lines go into the queue in chunks through {@link PromptQueue.addValidated}
 * (one atomic claim of the chunk's ids + one `addBulk` per chunk). Job ids are deterministic, so a line whose job
 * already exists is skipped: a re-run adds nothing, a run after an interruption adds the rest.
 */
import type { PromptQueue } from '../queue.js';
import { heapBounder } from './bounded-heap.js';
import type { LineDefaults, ValidLine } from './parse.js';
import { parsedLines } from './scan.js';

export interface EnqueueOptions {
  /** Jobs per `addBulk`. @defaultValue `1000` */
  chunk?: number;
  /**
   * Chunks sent to Redis at once (order does not matter: ids, not positions, make a run
   * idempotent). Measured on one connection, 2 or 3 in flight were slower than 1 (their claims
   * and `addBulk` transactions interleave), hence the default.
   * @defaultValue `1`
   */
  inFlight?: number;
  /** Called after every chunk. */
  onProgress?: (p: EnqueueProgress) => void;
}

export interface EnqueueProgress {
  /** Valid lines handled so far (added or already there). */
  handled: number;
  added: number;
  /** Invalid lines passed over (only with `--skip-invalid`; otherwise the scan stopped the run). */
  skipped: number;
}

export async function enqueueFile(
  queue: PromptQueue,
  path: string,
  lineDefaults: LineDefaults,
  opts: EnqueueOptions = {},
): Promise<EnqueueProgress> {
  const size = opts.chunk ?? 1000;
  const depth = opts.inFlight ?? 1;
  const p: EnqueueProgress = { handled: 0, added: 0, skipped: 0 };
  const running = new Set<Promise<void>>();
  let failure: unknown;
  const send = async (jobs: ValidLine[]) => {
    // Caught here and rethrown by the loop, so a failed chunk never becomes an unhandled rejection.
    const task: Promise<void> = queue.addValidated(jobs).then(
      ({ added }) => {
        p.added += added;
        p.handled += jobs.length;
        opts.onProgress?.({ ...p });
      },
      (err: unknown) => {
        failure ??= err;
      },
    );
    running.add(task);
    void task.finally(() => running.delete(task));
    if (running.size >= depth) await Promise.race(running);
    if (failure !== undefined) throw failure;
  };
  // Every 10 chunks (~10,000 lines): see bounded-heap.ts.
  const bound = heapBounder(10);
  let batch: ValidLine[] = [];
  for await (const parsed of parsedLines(path, lineDefaults)) {
    if (parsed.kind === 'invalid') {
      p.skipped += 1;
      continue;
    }
    batch.push(parsed);
    if (batch.length >= size) {
      await send(batch);
      batch = [];
      bound();
    }
  }
  if (batch.length > 0) await send(batch);
  await Promise.all(running);
  if (failure !== undefined) throw failure;
  return p;
}
