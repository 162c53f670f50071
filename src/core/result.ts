/**
 * What a completed job returns (its BullMQ `returnvalue`). Shared by the worker that writes it and the
 * producer side that reads it back, so it lives below both.
 *
 * Results are in the Messages API's format whatever the provider served them (providers/provider.ts):
 * the SDK's types are that format's schema, named here once.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { JobRecord } from './record.js';

/** A message as the Messages API returns it. */
export type ApiMessage = Anthropic.Message;

/** One event of a streamed Messages API answer (`message_start`, `content_block_delta`, …). */
export type ApiStreamEvent = Anthropic.RawMessageStreamEvent;

export interface JobResult {
  /** The API's message, folded from the stream. */
  message: ApiMessage;
  /** The job's record as it was saved when the job completed. */
  record: JobRecord;
}
