/**
 * Which jobs of the batch lane go into which Message Batch, and when (batches/collector.ts):
 *
 * - one batch holds the jobs of one account (the API's batches are per API key; models may mix);
 * - jobs sharing a cacheable prefix (tools, system and messages up to the last `cache_control`,
 *   issue 28 §3) sit next to each other, so they fill the same batch where they fit;
 * - a batch closes on size (`routing.batchMaxRequests`, at most the API's requests and bytes per
 *   batch) or on age: once the oldest job of its account has waited `routing.batchMaxAgeSeconds`
 *   in the lane, everything of that account is sent. A batch not yet full and not yet old waits.
 */
import { createHash } from 'node:crypto';
import type { JobRequest } from '../core/job.js';
import type { ValidLine } from '../producer/backfill/parse.js';
import type { LaneJob } from '../store/batch-lane.js';

/** A lane job with its request. */
export type ReadyJob = LaneJob & { request: JobRequest };

/** A job as the backfill's budget and outcome code take it. */
export function lineOf(job: { id: string; request: JobRequest }): ValidLine {
  return { kind: 'job', line: 0, id: job.id, customId: null, request: job.request, priority: 0 };
}

/** The hash of a request's cacheable prefix; '' when it marks none. */
export function prefixKey(request: JobRequest): string {
  const r = request as unknown as Record<string, unknown>;
  const parts: unknown[] = [r.tools ?? null, r.system ?? null];
  const marked = (x: unknown) => JSON.stringify(x ?? null).includes('"cache_control"');
  const messages = Array.isArray(r.messages) ? (r.messages as unknown[]) : [];
  let last = -1;
  messages.forEach((m, i) => {
    if (marked(m)) last = i;
  });
  if (last < 0 && !marked(r.tools) && !marked(r.system)) return '';
  parts.push(messages.slice(0, last + 1));
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}

/** The limits a batch closes at. */
export interface FillLimits {
  requests: number;
  bytes: number;
  maxAgeMs: number;
}

/**
 * The batches to send now, from the lane's jobs: per account, jobs ordered by prefix then by time
 * in the lane, cut at the limits; a cut that is full goes, and the rest goes only when old.
 */
export function batchesToSend(
  jobs: readonly ReadyJob[],
  limits: FillLimits,
  bytesOf: (job: ReadyJob) => number,
  now: number,
): ReadyJob[][] {
  const byAccount = new Map<string, ReadyJob[]>();
  for (const j of jobs) {
    const account = JSON.stringify(j.request.account ?? null);
    byAccount.set(account, [...(byAccount.get(account) ?? []), j]);
  }
  const out: ReadyJob[][] = [];
  for (const group of byAccount.values()) {
    const oldest = Math.min(...group.map((j) => j.at));
    const aged = now - oldest >= limits.maxAgeMs;
    const keyed = group.map((j) => ({ j, key: prefixKey(j.request) }));
    // The oldest prefix first, so an old job is not kept behind younger groups.
    const firstAt = new Map<string, number>();
    for (const { j, key } of keyed) firstAt.set(key, Math.min(firstAt.get(key) ?? j.at, j.at));
    keyed.sort(
      (a, b) => (firstAt.get(a.key) ?? 0) - (firstAt.get(b.key) ?? 0) || cmp(a.key, b.key) || a.j.at - b.j.at,
    );
    let batch: ReadyJob[] = [];
    // `{"requests":[]}`
    let bytes = 15;
    for (const { j } of keyed) {
      const n = bytesOf(j);
      if (batch.length >= limits.requests || (batch.length > 0 && bytes + n > limits.bytes)) {
        out.push(batch);
        batch = [];
        bytes = 15;
      }
      batch.push(j);
      bytes += n;
    }
    if (batch.length > 0 && (aged || batch.length >= limits.requests)) out.push(batch);
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
