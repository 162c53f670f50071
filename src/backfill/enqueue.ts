/**
 * The enqueue pass: valid lines go into the queue in chunks through {@link PromptQueue.addValidated}
 * (one EXISTS pipeline + one `addBulk` per chunk). Job ids are deterministic, so a line whose job
 * already exists is skipped: a re-run adds nothing, a run after an interruption adds the rest.
 */
import type { PromptQueue } from '../queue.js';
import type { LineDefaults, ValidLine } from './parse.js';
import { parsedLines } from './scan.js';

export interface EnqueueOptions {
  /** Jobs per `addBulk`. @defaultValue `1000` */
  chunk?: number;
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
  d: LineDefaults,
  opts: EnqueueOptions = {},
): Promise<EnqueueProgress> {
  const size = opts.chunk ?? 1000;
  const p: EnqueueProgress = { handled: 0, added: 0, skipped: 0 };
  let batch: ValidLine[] = [];
  // One chunk is sent while the next is parsed: reading and Redis round trips overlap.
  let inFlight: Promise<void> = Promise.resolve();
  let failure: unknown;
  const flush = async (jobs: ValidLine[]) => {
    const { added } = await queue.addValidated(jobs);
    p.added += added;
    p.handled += jobs.length;
    opts.onProgress?.({ ...p });
  };
  for await (const parsed of parsedLines(path, d)) {
    if (parsed.kind === 'invalid') {
      p.skipped += 1;
      continue;
    }
    batch.push(parsed);
    if (batch.length >= size) {
      const jobs = batch;
      batch = [];
      await inFlight;
      if (failure !== undefined) throw failure;
      // Caught here and rethrown above, so a failed chunk never becomes an unhandled rejection.
      inFlight = flush(jobs).catch((err: unknown) => {
        failure = err;
      });
    }
  }
  await inFlight;
  if (failure !== undefined) throw failure;
  if (batch.length > 0) await flush(batch);
  return p;
}
