/**
 * Anthropic's Message Batches API behind the provider-neutral {@link Batches}: jobs become batch
 * requests (`custom_id` + params), and the API's batches and results become {@link BatchInfo} and
 * {@link BatchResult}.
 */
import Anthropic from '@anthropic-ai/sdk';
import { type JobRequest, promptqFields } from '../../core/job.js';
import type { Batches, BatchInfo, BatchRequest, BatchResult } from '../provider.js';
import { classifyBatchError } from './classify.js';

/**
 * The Messages API parameters of a job: promptq's own fields (`tenant_id`, `webhook`, `deadline`,
 * `route`, `fallback_models`, `account`, `account_fallback`) stay out, as in a live call.
 * (`betas`, a header on a live call, is not applied to a batch request: it stays out too.)
 */
export function batchParams(request: JobRequest): Anthropic.Messages.MessageCreateParamsNonStreaming {
  const params: Record<string, unknown> = { ...request };
  for (const field of promptqFields) delete params[field];
  return params as unknown as Anthropic.Messages.MessageCreateParamsNonStreaming;
}

function apiRequest(r: BatchRequest): Anthropic.Messages.Batches.BatchCreateParams.Request {
  return { custom_id: r.customId, params: batchParams(r.request) };
}

function batchInfo(b: Anthropic.Messages.MessageBatch): BatchInfo {
  return {
    id: b.id,
    status: b.processing_status,
    createdAt: b.created_at,
    endedAt: b.ended_at ?? null,
    counts: { ...b.request_counts },
  };
}

/** One result of an ended batch, as every provider's would read. */
export function batchResult(r: Anthropic.Messages.MessageBatchResult): BatchResult {
  switch (r.type) {
    case 'succeeded':
      return { type: 'succeeded', message: r.message };
    case 'errored':
      return { type: 'errored', decision: classifyBatchError(r.error.error.type, r.error.error.message) };
    default:
      return { type: r.type };
  }
}

export class AnthropicBatches implements Batches {
  /** The API's limits per batch. */
  readonly limits = { requests: 100_000, bytes: 256 * 1024 * 1024 } as const;
  readonly #client: Anthropic;

  constructor(client: Anthropic) {
    this.#client = client;
  }

  requestBytes(r: BatchRequest): number {
    // Its JSON and a comma.
    return Buffer.byteLength(JSON.stringify(apiRequest(r))) + 1;
  }

  async create(requests: readonly BatchRequest[]): Promise<BatchInfo> {
    return batchInfo(await this.#client.messages.batches.create({ requests: requests.map(apiRequest) }));
  }

  async retrieve(id: string): Promise<BatchInfo | null> {
    try {
      return batchInfo(await this.#client.messages.batches.retrieve(id));
    } catch (err) {
      if (err instanceof Anthropic.NotFoundError) return null;
      throw err;
    }
  }

  async *list(): AsyncIterable<BatchInfo> {
    for await (const b of this.#client.messages.batches.list({ limit: 100 })) yield batchInfo(b);
  }

  async *results(id: string): AsyncIterable<{ customId: string; result: BatchResult }> {
    for await (const r of await this.#client.messages.batches.results(id)) {
      yield { customId: r.custom_id, result: batchResult(r.result) };
    }
  }

  async cancel(id: string): Promise<void> {
    await this.#client.messages.batches.cancel(id);
  }
}
