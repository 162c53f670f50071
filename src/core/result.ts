/**
 * What a completed job returns (its BullMQ `returnvalue`). Shared by the worker that writes it and the
 * producer side that reads it back, so it lives below both.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { JobRecord } from './record.js';

export interface JobResult {
  /** The API's message, folded from the stream. */
  message: Anthropic.Message;
  /** The job's record as it was saved when the job completed. */
  record: JobRecord;
}
