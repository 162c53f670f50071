/**
 * The cost bench's workload and its figures (scripts/bench/cost.ts, issue 28 §6): a mixed arrival
 * of jobs, priced from what the simulator served, and the floor computed from the same tokens.
 */
import type { ServedResponse } from '../../packages/anthropic-simulator/src/index.js';
import type { Usage } from '../../src/core/record.js';
import { priceCall } from '../../src/providers/anthropic/pricing.js';
import { Rng } from '../lab/rng.js';

export const model = 'claude-sonnet-4-6';

/** One job of the workload, as it arrives. */
export interface CostJob {
  id: string;
  /** ms after the start of the run. */
  arrivesAtMs: number;
  /** A fifth of the jobs: someone waits for the answer; no deadline. */
  interactive: boolean;
  /** Its group's shared cacheable prefix (the index of the group). */
  group: number;
  /** A duration (`"6h"`) for the deferrable jobs. */
  deadline: string | undefined;
  body: Record<string, unknown>;
}

export interface WorkloadOptions {
  jobs: number;
  groups: number;
  seconds: number;
  seed: number;
}

/** A long shared prefix per group (about 3,000 simulator tokens each, over Sonnet's 1,024 minimum). */
function prefixText(group: number): string {
  return `You are assistant ${group} of the support team. ${`Policy ${group} clause: answer with care and cite the handbook. `.repeat(250)}`;
}

/** The jobs, interleaved over `seconds` as they would arrive (seeded: every run gets the same ones). */
export function workload(o: WorkloadOptions): CostJob[] {
  const rng = new Rng(o.seed);
  const deadlines = ['2h', '4h', '6h', '8h'];
  const jobs: CostJob[] = [];
  for (let i = 0; i < o.jobs; i++) {
    const group = Math.floor(rng.float() * o.groups);
    const interactive = i % 5 === 0;
    const deadline = interactive ? undefined : deadlines[Math.floor(rng.float() * deadlines.length)];
    const id = `cost-${i}`;
    jobs.push({
      id,
      arrivesAtMs: Math.round(rng.float() * o.seconds * 1000),
      interactive,
      group,
      deadline,
      body: {
        id,
        model,
        max_tokens: 120,
        system: [{ type: 'text', text: prefixText(group), cache_control: { type: 'ephemeral' } }],
        prompt: `Customer question ${i}: ${'please explain the refund policy for my order '.repeat(1 + (i % 4))}`,
      },
    });
  }
  return jobs.sort((a, b) => a.arrivesAtMs - b.arrivesAtMs);
}

/** A usage's price in USD at the list price (the Batches discount when `batch`). */
export function priceOf(usage: Usage, batch: boolean): number {
  const cost = priceCall(usage, model, { batch });
  if (cost === null) throw new Error(`${model} has no price in the vendored list`);
  return cost.total;
}

/** What the simulator served one request: its usage and whether through a batch. */
export interface ServedUsage {
  usage: Usage;
  batch: boolean;
}

export function servedUsage(s: ServedResponse): ServedUsage {
  return { usage: { ...s.usage, cache_creation: s.cacheCreation }, batch: false };
}

export interface Spend {
  usd: number;
  requests: number;
  writes: number;
  reads: number;
  batched: number;
}

export function spendOf(served: readonly ServedUsage[]): Spend {
  let usd = 0;
  let writes = 0;
  let reads = 0;
  for (const s of served) {
    usd += priceOf(s.usage, s.batch);
    if ((s.usage.cache_creation_input_tokens ?? 0) > 0) writes++;
    if ((s.usage.cache_read_input_tokens ?? 0) > 0) reads++;
  }
  return { usd, requests: served.length, writes, reads, batched: served.filter((s) => s.batch).length };
}

/**
 * The floor from the tokens each job was served (`byJob`, from the naive run): interactive jobs
 * live, the rest through batches at the Batches price, each group's prefix written once (live when
 * the group has an interactive job, which must not wait for a batch; else in a batch) and read by
 * every other job of the group at that job's route's price.
 */
export function floorOf(jobs: readonly CostJob[], byJob: ReadonlyMap<string, Usage>): number {
  const writer = new Map<number, string>();
  for (const j of jobs) if (j.interactive && !writer.has(j.group)) writer.set(j.group, j.id);
  for (const j of jobs) if (!writer.has(j.group)) writer.set(j.group, j.id);
  let usd = 0;
  for (const j of jobs) {
    const u = byJob.get(j.id);
    if (u === undefined) throw new Error(`the naive run served no answer for ${j.id}`);
    const prefix = (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);
    const writes = writer.get(j.group) === j.id;
    const usage: Usage = {
      input_tokens: u.input_tokens,
      output_tokens: u.output_tokens,
      cache_creation_input_tokens: writes ? prefix : 0,
      cache_read_input_tokens: writes ? 0 : prefix,
      cache_creation: { ephemeral_5m_input_tokens: writes ? prefix : 0, ephemeral_1h_input_tokens: 0 },
    };
    usd += priceOf(usage, !j.interactive);
  }
  return usd;
}

/** The p-th percentile (0-100) of the values, nearest rank; NaN when none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
