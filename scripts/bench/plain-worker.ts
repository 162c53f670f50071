/**
 * S10/S11's reference pipeline, one process: a plain BullMQ worker that streams each job through
 * the Anthropic SDK (`messages.stream(...).finalMessage()`) and keeps the answer as the job's return
 * value — what a careful user writes without promptq. Started by `pipeline.ts` with
 * `REDIS_URL`, `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`, `BENCH_QUEUE`, `BENCH_CONCURRENCY`;
 * SIGTERM closes it.
 */
import Anthropic from '@anthropic-ai/sdk';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

interface PlainJobData {
  model: string;
  max_tokens: number;
  prompt: string;
}

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`plain-worker: ${name} is not set`);
  return v;
};

// SDK defaults (2 retries, its own backoff and retry-after).
const client = new Anthropic({ apiKey: env('ANTHROPIC_API_KEY'), baseURL: env('ANTHROPIC_BASE_URL') });
const connection = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
const worker = new Worker<PlainJobData>(
  env('BENCH_QUEUE'),
  async (job) => {
    const message = await client.messages
      .stream({
        model: job.data.model,
        max_tokens: job.data.max_tokens,
        messages: [{ role: 'user', content: job.data.prompt }],
      })
      .finalMessage();
    return {
      id: message.id,
      content: message.content,
      stop_reason: message.stop_reason,
      usage: message.usage,
    };
  },
  { connection, concurrency: Number(env('BENCH_CONCURRENCY')) },
);
worker.on('error', (err) => process.stderr.write(`plain-worker: ${err.message}\n`));

const stop = async () => {
  await worker.close();
  connection.disconnect();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
