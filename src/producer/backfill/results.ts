/**
 * Results in input order: the input is read again (ids are deterministic, so no manifest is kept),
 * a bounded window of lines ahead is polled in Redis with one pipeline per tick, and the finished
 * prefix of the window is written out. Memory is bounded by the window, not by the file. Jobs finish
 * roughly in input order (one priority, FIFO), so the window also gives honest progress counts.
 *
 * A result line follows the Message Batches API's results: `{"custom_id", "result": {"type":
 * "succeeded", "message"} | {"type": "errored", "error"}}`, plus `line`, `job_id` and the `record`;
 * promptq adds the types `pending` (not finished), `missing` (no such job) and `invalid` (a bad line
 * that `--skip-invalid` passed over); `canceled` and `expired` come from `--via batches`.
 */
import { once } from 'node:events';
import type { JobRecord } from '../../core/record.js';
import type { RedisConnection as Redis } from '../../store/connection.js';
import { callerJobId, type Keyspace } from '../../store/keys.js';
import { readJobFields } from '../../store/record-store.js';
import { isSameRequest } from '../conflicts.js';
import type { LineDefaults, ParsedLine } from './parse.js';
import { type BackfillSummary, type OutcomeType, SummaryBuilder } from './run-summary.js';
import { parsedLines } from './scan.js';

export interface ResultsOptions {
  redis: Redis;
  /** The queue's keys (hash-tagged on a cluster). */
  keys: Keyspace;
  /** Wait for unfinished jobs; otherwise write their current state (`pending`). */
  wait: boolean;
  /** Give up waiting after this many ms (then unfinished jobs are `pending`). @defaultValue no limit */
  timeoutMs?: number;
  /** Where result lines go (none: only the summary). */
  out?: NodeJS.WritableStream;
  /** Lines looked at ahead of the last one written. @defaultValue `2000` */
  window?: number;
  /** Pause between polls while waiting. @defaultValue `250` */
  pollMs?: number;
  onProgress?: (s: SummaryBuilder) => void;
}

export interface ResultLine {
  custom_id: string | null;
  line: number;
  job_id: string | null;
  result:
    | { type: 'succeeded'; message: unknown }
    | { type: 'errored' | 'invalid'; error: { type: string; message: string } }
    | { type: 'pending' | 'missing' | 'canceled' | 'expired' };
  record: JobRecord | null;
}

interface Entry {
  parsed: ParsedLine;
  result?: ResultLine;
}

const fields = ['timestamp', 'finishedOn', 'returnvalue', 'failedReason', 'record', 'data'] as const;

function json<T>(raw: string | null | undefined): T | null {
  if (raw === null || raw === undefined) return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return null;
  }
}

/** The outcome of one job from its hash fields, or `null` while it is unfinished. */
function outcome(
  entry: Entry & { parsed: { kind: 'job' } },
  row: Array<string | null>,
  final: boolean,
): ResultLine | null {
  const [timestamp, finishedOn, returnvalue, failedReason, recordRaw, data] = row;
  const p = entry.parsed;
  const base = { custom_id: p.customId, line: p.line, job_id: callerJobId(p.id) };
  if (timestamp === null || timestamp === undefined) {
    return { ...base, result: { type: 'missing' }, record: null };
  }
  // The job of this id is another request (the id was used for other work): never its result.
  if (typeof data === 'string' && !isSameRequest(data, p.request)) {
    const message = `a job with id "${base.job_id}" exists with a different request: this line did not run; use another --id-prefix`;
    return { ...base, result: { type: 'errored', error: { type: 'id_conflict', message } }, record: null };
  }
  const ret = json<{ message?: unknown; record?: JobRecord }>(returnvalue);
  const record = json<JobRecord>(recordRaw) ?? ret?.record ?? null;
  if (finishedOn === null || finishedOn === undefined) {
    return final ? { ...base, result: { type: 'pending' }, record } : null;
  }
  if (ret?.message !== undefined)
    return { ...base, result: { type: 'succeeded', message: ret.message }, record };
  // A Message Batches request that ended unprocessed keeps the API's own result type.
  if (record?.error_type === 'canceled' || record?.error_type === 'expired')
    return { ...base, result: { type: record.error_type }, record };
  return {
    ...base,
    result: {
      type: 'errored',
      error: { type: record?.error_type ?? 'failed', message: failedReason ?? 'failed' },
    },
    record,
  };
}

const summaryType = (r: ResultLine): OutcomeType => r.result.type as OutcomeType;

/** Write one result per non-blank input line, in input order; returns the summary. */
export async function collectResults(
  path: string,
  lineDefaults: LineDefaults,
  o: ResultsOptions,
): Promise<BackfillSummary> {
  const windowSize = o.window ?? 2000;
  const pollMs = o.pollMs ?? 250;
  const { keys } = o;
  const deadline = o.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + o.timeoutMs;
  const summary = new SummaryBuilder();
  const lines = parsedLines(path, lineDefaults)[Symbol.asyncIterator]();
  const window: Entry[] = [];
  let eof = false;

  const settle = (e: Entry, r: ResultLine) => {
    e.result = r;
    const reason = 'error' in r.result ? r.result.error.type : undefined;
    summary.add(summaryType(r), r.record, reason);
  };

  for (;;) {
    while (!eof && window.length < windowSize) {
      const next = await lines.next();
      if (next.done) {
        eof = true;
        break;
      }
      const e: Entry = { parsed: next.value };
      if (next.value.kind === 'invalid') {
        settle(e, {
          custom_id: next.value.customId,
          line: next.value.line,
          job_id: null,
          result: {
            type: 'invalid',
            error: {
              type: 'invalid_request',
              message: next.value.problems.map((x) => `${x.field}: ${x.message}`).join('; '),
            },
          },
          record: null,
        });
      }
      window.push(e);
    }
    if (window.length === 0) break;

    const final = !o.wait || Date.now() >= deadline;
    const open = window.filter(
      (e): e is Entry & { parsed: { kind: 'job' } } => e.result === undefined && e.parsed.kind === 'job',
    );
    if (open.length > 0) {
      const rows = await readJobFields(
        o.redis,
        keys,
        open.map((e) => e.parsed.id),
        fields,
      );
      open.forEach((e, i) => {
        const r = outcome(e, rows[i] ?? [], final);
        if (r !== null) settle(e, r);
      });
    }
    o.onProgress?.(summary);

    let written = 0;
    while (window[0]?.result !== undefined) {
      const e = window.shift()!;
      written += 1;
      if (o.out && !o.out.write(`${JSON.stringify(e.result)}\n`)) await once(o.out, 'drain');
    }
    // Nothing could be written: the oldest line is still running, so wait before asking again.
    if (written === 0 && window.length > 0) await new Promise((r) => setTimeout(r, pollMs));
  }
  return summary.build();
}
