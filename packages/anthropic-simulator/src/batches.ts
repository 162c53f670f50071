/**
 * The Message Batches API's state: batches, their requests and, once a batch has ended, its results.
 * Time drives everything (no timers): each request is given the moment it finishes, spread over the
 * batch's processing time, so `request_counts` move while a client polls. Batches have their own
 * limits and never touch the Messages rate limiter, as in the real API.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BatchesOptions } from './batches-options.js';
import { planContent } from './content-plan.js';
import { messageBody } from './message-body.js';
import type { ResolvedOptions } from './options.js';
import { planOutput } from './output.js';
import type { PromptCache } from './prompt-cache.js';
import { type Rng, randomId, seededRng } from './rng.js';
import { promptSegments } from './tokenizer.js';
import { validateMessagesRequest } from './validate-request.js';

/** The real API's `custom_id` rule. */
export const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

type Fate = 'succeeded' | 'errored' | 'expired';

interface SimRequest {
  customId: string;
  params: unknown;
  /** When processing this request ends (ms). */
  doneAt: number;
  fate: Fate;
  /** Why the params are not a valid Messages request (the request then ends `errored`). */
  invalid: { type: string; message: string } | null;
}

interface SimBatch {
  id: string;
  createdAt: number;
  readyAt: number;
  cancelAt: number | null;
  requests: SimRequest[];
  /** JSONL lines, made once when the batch has ended and its results are first asked for. */
  results: string[] | null;
  seed: number;
}

export type ProcessingStatus = 'in_progress' | 'canceling' | 'ended';

/** A batch as the API shows it. */
export interface MessageBatchBody {
  id: string;
  type: 'message_batch';
  processing_status: ProcessingStatus;
  request_counts: {
    processing: number;
    succeeded: number;
    errored: number;
    canceled: number;
    expired: number;
  };
  ended_at: string | null;
  created_at: string;
  expires_at: string;
  archived_at: string | null;
  cancel_initiated_at: string | null;
  results_url: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();
const DAY_MS = 24 * 3600 * 1000;

export class BatchStore {
  readonly #opts: ResolvedOptions;
  readonly #cfg: Required<BatchesOptions>;
  readonly #cache: PromptCache;
  /** Newest last. */
  readonly #batches = new Map<string, SimBatch>();
  #rng: Rng;
  #made = 0;
  /** `stateFile`'s modification time when last read or written (-1: never). */
  #seen = -1;

  constructor(opts: ResolvedOptions, cfg: Required<BatchesOptions>, cache: PromptCache) {
    this.#opts = opts;
    this.#cfg = cfg;
    this.#cache = cache;
    this.#rng = seededRng(opts.seed ^ 0x2f6b_a7c1);
    this.#load();
  }

  /** The batches in `stateFile`, when another process (or an earlier one) wrote it since. */
  #load(): void {
    const file = this.#cfg.stateFile;
    if (file === '') return;
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      return;
    }
    if (mtime === this.#seen) return;
    const state = JSON.parse(readFileSync(file, 'utf8')) as { made: number; batches: SimBatch[] };
    this.#batches.clear();
    for (const b of state.batches) this.#batches.set(b.id, b);
    this.#made = state.made;
    this.#seen = mtime;
  }

  /** Write the batches to `stateFile` (whole, then renamed over it: a reader never sees half). */
  #save(): void {
    const file = this.#cfg.stateFile;
    if (file === '') return;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ made: this.#made, batches: [...this.#batches.values()] }), {
      mode: 0o600,
    });
    renameSync(tmp, file);
    this.#seen = statSync(file).mtimeMs;
  }

  get config(): Required<BatchesOptions> {
    return this.#cfg;
  }

  reset(): void {
    this.#batches.clear();
    this.#rng = seededRng(this.#opts.seed ^ 0x2f6b_a7c1);
    this.#made = 0;
    if (this.#seen !== -1) this.#save();
  }

  /** A new batch of already-checked requests. */
  create(requests: Array<{ custom_id: string; params: unknown }>): string {
    this.#load();
    const now = this.#opts.now();
    const span = this.#cfg.processingSeconds * 1000;
    const id = randomId('msgbatch_');
    const { errorRate, expiryRate } = this.#cfg;
    this.#batches.set(id, {
      id,
      createdAt: now,
      readyAt: now + span,
      cancelAt: null,
      seed: (this.#opts.seed + ++this.#made * 7919) | 0,
      requests: requests.map((r) => {
        const u = this.#rng();
        const invalid = this.#check(r.params);
        const fate: Fate =
          invalid !== null || u < errorRate
            ? 'errored'
            : u < errorRate + expiryRate
              ? 'expired'
              : 'succeeded';
        return { customId: r.custom_id, params: r.params, fate, invalid, doneAt: now + span * this.#rng() };
      }),
      results: null,
    });
    this.#save();
    return id;
  }

  #check(params: unknown): { type: string; message: string } | null {
    const v = validateMessagesRequest(params, this.#opts.maxOutputTokens);
    if (!v.ok) return { type: v.error.type, message: v.error.message };
    if (v.value.stream) return { type: 'invalid_request_error', message: 'stream: not supported in a batch' };
    return null;
  }

  has(id: string): boolean {
    this.#load();
    return this.#batches.has(id);
  }

  /** Newest first. */
  ids(): string[] {
    this.#load();
    return [...this.#batches.keys()].reverse();
  }

  /** Starts canceling (no-op once canceling or ended). */
  cancel(id: string): void {
    this.#load();
    const b = this.#batches.get(id);
    if (!b || b.cancelAt !== null) return;
    const now = this.#opts.now();
    if (now >= b.readyAt) return;
    b.cancelAt = now;
    this.#save();
  }

  delete(id: string): boolean {
    this.#load();
    const deleted = this.#batches.delete(id);
    if (deleted) this.#save();
    return deleted;
  }

  #endedAt(b: SimBatch): number {
    return b.cancelAt === null ? b.readyAt : Math.min(b.readyAt, b.cancelAt + this.#cfg.cancelSeconds * 1000);
  }

  /** What a request ended as, given when the batch ended (or `processing`). */
  #state(b: SimBatch, r: SimRequest, now: number): Fate | 'canceled' | 'processing' {
    const end = this.#endedAt(b);
    if (b.cancelAt !== null && r.doneAt > b.cancelAt) return now >= end ? 'canceled' : 'processing';
    if (r.fate === 'expired') return now >= end ? 'expired' : 'processing';
    return r.doneAt <= now ? r.fate : 'processing';
  }

  /** The batch object; `baseUrl` makes `results_url` absolute, as the SDK expects. */
  view(id: string, baseUrl: string): MessageBatchBody | null {
    this.#load();
    const b = this.#batches.get(id);
    if (!b) return null;
    const now = this.#opts.now();
    const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
    for (const r of b.requests) counts[this.#state(b, r, now)] += 1;
    const end = this.#endedAt(b);
    const ended = now >= end;
    return {
      id: b.id,
      type: 'message_batch',
      processing_status: ended ? 'ended' : b.cancelAt !== null ? 'canceling' : 'in_progress',
      request_counts: counts,
      ended_at: ended ? iso(end) : null,
      created_at: iso(b.createdAt),
      expires_at: iso(b.createdAt + DAY_MS),
      archived_at: null,
      cancel_initiated_at: b.cancelAt === null ? null : iso(b.cancelAt),
      results_url: ended ? `${baseUrl}/v1/messages/batches/${b.id}/results` : null,
    };
  }

  /** The results as JSONL lines (not in request order, as the real API warns), or `null` before the end. */
  results(id: string): string[] | null {
    this.#load();
    const b = this.#batches.get(id);
    if (!b) return null;
    const end = this.#endedAt(b);
    if (this.#opts.now() < end) return null;
    if (b.results === null) {
      const rng = seededRng(b.seed);
      const lines = b.requests.map((r) =>
        JSON.stringify({ custom_id: r.customId, result: this.#result(b, r, end, rng) }),
      );
      // Shuffled, so that clients which rely on the order are caught in tests.
      for (let i = lines.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
      }
      b.results = lines;
      // Kept: a client that reads them again (a resumed run) gets the same answers, as from the API.
      this.#save();
    }
    return b.results;
  }

  #result(b: SimBatch, r: SimRequest, end: number, rng: Rng): unknown {
    const state = this.#state(b, r, end);
    if (state === 'canceled' || state === 'expired' || state === 'processing') {
      return { type: state === 'processing' ? 'expired' : state };
    }
    const error = (type: string, message: string) => ({
      type: 'errored',
      error: { type: 'error', error: { type, message }, request_id: null },
    });
    if (r.invalid !== null) return error(r.invalid.type, r.invalid.message);
    if (state === 'errored') return error('api_error', 'Internal server error');
    const validated = validateMessagesRequest(r.params, this.#opts.maxOutputTokens);
    if (!validated.ok) return error(validated.error.type, validated.error.message);
    const req = validated.value;
    const plan = this.#cache.plan(
      req.model,
      promptSegments(req.input),
      this.#opts.cacheMinTokens(req.model),
      end,
    );
    plan.commit(end);
    const out = planOutput(rng, req.maxTokens, this.#opts.output, req.stopSequences);
    const content = planContent(req.content, out, rng, 4);
    const body = messageBody(randomId('msg_'), req.model, content, plan.usage, content.outputTokens);
    return { type: 'succeeded', message: { ...body, usage: { ...body.usage, service_tier: 'batch' } } };
  }
}
