/**
 * Input lines, streamed: memory stays flat however long the file is. Standard input is spooled to
 * a temporary file first, because a backfill reads its input more than once (validate, enqueue,
 * collect results) and stdin can be read only once.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';

/** One line of the input; `line` counts from 1, as editors do. */
export interface InputLine {
  line: number;
  text: string;
}

/** Every line of `path`, in order, with its number (CRLF endings are accepted). */
export async function* readLines(path: string): AsyncGenerator<InputLine> {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of rl) {
    line += 1;
    yield { line, text };
  }
}

/** A readable input file and how to clean up after it. */
export interface InputFile {
  path: string;
  /** Removes the spool file of stdin; a no-op for real files. */
  cleanup(): Promise<void>;
}

/** `-` → stdin spooled to a temporary file; anything else → that file as it is. */
export async function openInput(
  arg: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<InputFile> {
  if (arg !== '-') return { path: arg, cleanup: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), 'promptq-stdin-'));
  const path = join(dir, 'input.jsonl');
  await pipeline(stdin, createWriteStream(path));
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
