/**
 * The job schema (docs/reference/job.md) and the job record (docs/reference/record.md).
 *
 * {@link validateJob} is the one validator used at every entrance: HTTP, CLI, library, and the worker
 * (for jobs added straight to BullMQ by another language's client).
 */
import { defaults } from './config.js';

import { PromptqError } from './errors.js';

/** A message in Anthropic format. Content blocks are passed to the API as they are. */
export interface Message {
  role: 'user' | 'assistant';
  content: string | Array<Record<string, unknown>>;
}

/** What a caller submits. Either `messages` or `prompt`. */
export interface JobBody {
  model: string;
  max_tokens: number;
  messages?: Message[];
  prompt?: string;
  system?: string | Array<Record<string, unknown>>;
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  metadata?: { user_id?: string };
  tenant_id?: string;
  /** Idempotency key: `[A-Za-z0-9_-]{1,128}`. */
  id?: string;
  /** 1 = highest. */
  priority?: number;
}

/**
 * A validated job: `prompt` turned into `messages`, `tenant_id` mirrored into `metadata.user_id`;
 * `id` and `priority` live in the BullMQ job, not in its data.
 */
export type JobRequest = Omit<JobBody, 'messages' | 'prompt' | 'id' | 'priority'> & { messages: Message[] };

/** The per-job record (docs/reference/record.md). */
export interface JobRecord {
  enqueued_at: string;
  started_at: string | null;
  finished_at: string | null;
  model: string;
  tenant_id: string | null;
  max_tokens: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  queue_wait_ms: number | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  total_ms: number | null;
  /** Connection set-up (DNS+TCP+TLS) of the successful call; 0 on a kept-alive connection. */
  connect_ms: number | null;
  /** Request headers sent → response headers in (network round trip + API queueing). */
  ttfb_ms: number | null;
  attempts: number;
  /** Retries by reason (`rate_limited`, `overloaded`, `server_error`, `network_error`, `timeout`). */
  retries: Record<string, number>;
  rate_limited: number;
  status_code: number | null;
  error_type: string | null;
  request_id: string | null;
  cost_usd: number;
}

/** One problem with a job body. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** An invalid job body; `field` names the first bad field, `problems` lists them all. */
export class ValidationError extends PromptqError {
  override readonly name = 'ValidationError';
  readonly field: string;
  constructor(readonly problems: FieldProblem[]) {
    const first = problems[0] ?? { field: 'body', message: 'invalid' };
    // A hostile key (blank, control characters, lone surrogates) is quoted so the message still
    // shows which field it was.
    const name = /^[A-Za-z0-9_.-]+$/.test(first.field) ? first.field : JSON.stringify(first.field);
    super(`${name}: ${first.message}`, { code: 'invalid_job', exitCode: 2 });
    this.field = first.field;
  }
}

/** Limits applied by {@link validateJob}. */
export interface JobLimits {
  /** @defaultValue `128000` */
  maxTokens: number;
  /** @defaultValue `1000` */
  maxMessages: number;
  /** Longest string anywhere in the body, in characters. @defaultValue `2000000` */
  maxStringLength: number;
}

export const defaultJobLimits: JobLimits = {
  maxTokens: defaults.maxTokensCap,
  maxMessages: defaults.maxMessages,
  maxStringLength: defaults.maxStringLength,
};

const allowedFields = new Set([
  'model',
  'max_tokens',
  'messages',
  'prompt',
  'system',
  'temperature',
  'top_p',
  'stop_sequences',
  'metadata',
  'tenant_id',
  'id',
  'priority',
]);
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);
export const jobIdPattern = /^[A-Za-z0-9_-]{1,128}$/;
const maxDepth = 32;
/** Largest user priority (BullMQ's 2^21 is shared with the tenant rank: see fairness.ts). */
export const maxPriority = defaults.maxPriority;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : `${typeof v}`;
}

/** Walk a value: reject prototype-pollution keys, over-deep nesting and over-long strings. */
function checkTree(v: unknown, path: string, limits: JobLimits, problems: FieldProblem[], depth = 0): void {
  if (problems.length > 20) return;
  if (depth > maxDepth) {
    problems.push({ field: path, message: `nested more than ${maxDepth} levels deep` });
    return;
  }
  if (typeof v === 'string') {
    if (v.length > limits.maxStringLength) {
      problems.push({ field: path, message: `string longer than ${limits.maxStringLength} characters` });
    }
  } else if (Array.isArray(v)) {
    v.forEach((item, i) => {
      checkTree(item, `${path}.${i}`, limits, problems, depth + 1);
    });
  } else if (isPlainObject(v)) {
    for (const key of Object.keys(v)) {
      if (forbiddenKeys.has(key)) {
        problems.push({ field: `${path}.${key}`, message: 'this key is not allowed' });
        continue;
      }
      checkTree(v[key], `${path}.${key}`, limits, problems, depth + 1);
    }
  }
}

function checkContent(content: unknown, field: string, problems: FieldProblem[]): void {
  if (typeof content === 'string') {
    if (content.length === 0) problems.push({ field, message: 'must not be empty' });
    return;
  }
  if (!Array.isArray(content) || content.length === 0) {
    problems.push({
      field,
      message: `must be a non-empty string or an array of content blocks, got ${describe(content)}`,
    });
    return;
  }
  content.forEach((block, i) => {
    if (!isPlainObject(block) || typeof block.type !== 'string') {
      problems.push({
        field: `${field}.${i}`,
        message: 'must be a content block object with a string "type"',
      });
    }
  });
}

function isNumberIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
}

/**
 * Validate a job body. Returns the normalized request plus the idempotency id and priority, or throws
 * {@link ValidationError} naming every bad field.
 */
export function validateJob(
  body: unknown,
  limits: JobLimits = defaultJobLimits,
): { request: JobRequest; id: string | undefined; priority: number | undefined } {
  const problems: FieldProblem[] = [];
  if (!isPlainObject(body)) {
    throw new ValidationError([{ field: 'body', message: `must be a JSON object, got ${describe(body)}` }]);
  }
  for (const key of Object.keys(body)) {
    if (forbiddenKeys.has(key) || !allowedFields.has(key)) {
      problems.push({ field: key, message: 'unknown field' });
    }
  }
  checkTree(body, 'body', limits, problems);
  if (problems.length > 0)
    throw new ValidationError(problems.map((p) => ({ ...p, field: p.field.replace(/^body\./, '') })));

  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model.length === 0 || b.model.length > 256) {
    problems.push({
      field: 'model',
      message: `required: a model name string (1-256 characters), got ${describe(b.model)}`,
    });
  }
  if (
    !Number.isInteger(b.max_tokens) ||
    (b.max_tokens as number) < 1 ||
    (b.max_tokens as number) > limits.maxTokens
  ) {
    problems.push({ field: 'max_tokens', message: `required: an integer from 1 to ${limits.maxTokens}` });
  }
  const hasMessages = b.messages !== undefined;
  const hasPrompt = b.prompt !== undefined;
  if (hasMessages && hasPrompt) {
    problems.push({ field: 'prompt', message: 'give either "messages" or "prompt", not both' });
  } else if (!hasMessages && !hasPrompt) {
    problems.push({
      field: 'messages',
      message: 'required: "messages" (Anthropic format) or "prompt" (a string)',
    });
  } else if (hasPrompt) {
    if (typeof b.prompt !== 'string' || b.prompt.length === 0) {
      problems.push({ field: 'prompt', message: `must be a non-empty string, got ${describe(b.prompt)}` });
    }
  } else if (!Array.isArray(b.messages) || b.messages.length === 0) {
    problems.push({ field: 'messages', message: `must be a non-empty array, got ${describe(b.messages)}` });
  } else if (b.messages.length > limits.maxMessages) {
    problems.push({ field: 'messages', message: `at most ${limits.maxMessages} messages` });
  } else {
    b.messages.forEach((m: unknown, i: number) => {
      if (!isPlainObject(m)) {
        problems.push({ field: `messages.${i}`, message: `must be an object, got ${describe(m)}` });
        return;
      }
      if (m.role !== 'user' && m.role !== 'assistant') {
        problems.push({ field: `messages.${i}.role`, message: 'must be "user" or "assistant"' });
      }
      checkContent(m.content, `messages.${i}.content`, problems);
      for (const k of Object.keys(m)) {
        if (k !== 'role' && k !== 'content')
          problems.push({ field: `messages.${i}.${k}`, message: 'unknown field' });
      }
    });
    const first = b.messages[0] as { role?: unknown } | undefined;
    if (problems.length === 0 && first?.role !== 'user') {
      problems.push({ field: 'messages.0.role', message: 'the first message must have role "user"' });
    }
  }
  if (b.system !== undefined && typeof b.system !== 'string') {
    checkContent(b.system, 'system', problems);
  }
  if (b.temperature !== undefined && !isNumberIn(b.temperature, 0, 1)) {
    problems.push({ field: 'temperature', message: 'must be a number from 0 to 1' });
  }
  if (b.top_p !== undefined && !isNumberIn(b.top_p, 0, 1)) {
    problems.push({ field: 'top_p', message: 'must be a number from 0 to 1' });
  }
  if (b.stop_sequences !== undefined) {
    const s = b.stop_sequences;
    if (!Array.isArray(s) || s.length > 16 || s.some((x) => typeof x !== 'string' || x.length === 0)) {
      problems.push({ field: 'stop_sequences', message: 'must be an array of at most 16 non-empty strings' });
    }
  }
  if (b.metadata !== undefined) {
    if (!isPlainObject(b.metadata)) {
      problems.push({ field: 'metadata', message: `must be an object, got ${describe(b.metadata)}` });
    } else {
      for (const [k, v] of Object.entries(b.metadata)) {
        if (k !== 'user_id')
          problems.push({ field: `metadata.${k}`, message: 'unknown field (only "user_id")' });
        else if (typeof v !== 'string' || v.length > 256) {
          problems.push({ field: 'metadata.user_id', message: 'must be a string of at most 256 characters' });
        }
      }
    }
  }
  if (b.tenant_id !== undefined && (typeof b.tenant_id !== 'string' || !/^[^\s]{1,128}$/.test(b.tenant_id))) {
    problems.push({ field: 'tenant_id', message: 'must be a string of 1-128 characters without spaces' });
  }
  if (b.id !== undefined && (typeof b.id !== 'string' || !jobIdPattern.test(b.id))) {
    problems.push({ field: 'id', message: 'must match [A-Za-z0-9_-]{1,128}' });
  }
  if (
    b.priority !== undefined &&
    (!Number.isInteger(b.priority) || !isNumberIn(b.priority, 1, maxPriority))
  ) {
    problems.push({ field: 'priority', message: `must be an integer from 1 (highest) to ${maxPriority}` });
  }
  if (problems.length > 0) throw new ValidationError(problems);

  const tenant = b.tenant_id as string | undefined;
  const metadata = b.metadata as { user_id?: string } | undefined;
  const request: JobRequest = {
    model: b.model as string,
    max_tokens: b.max_tokens as number,
    messages: hasPrompt ? [{ role: 'user', content: b.prompt as string }] : (b.messages as Message[]),
  };
  if (b.system !== undefined) request.system = b.system as JobRequest['system'];
  if (b.temperature !== undefined) request.temperature = b.temperature as number;
  if (b.top_p !== undefined) request.top_p = b.top_p as number;
  if (b.stop_sequences !== undefined) request.stop_sequences = b.stop_sequences as string[];
  if (tenant !== undefined) {
    request.tenant_id = tenant;
    request.metadata = { ...metadata, user_id: tenant };
  } else if (metadata !== undefined) {
    request.metadata = metadata;
  }
  return { request, id: b.id as string | undefined, priority: b.priority as number | undefined };
}

/** A fresh record for a job enqueued at `enqueuedAt` (ms). */
export function newRecord(request: JobRequest, enqueuedAt: number): JobRecord {
  return {
    enqueued_at: new Date(enqueuedAt).toISOString(),
    started_at: null,
    finished_at: null,
    model: request.model,
    tenant_id: request.tenant_id ?? null,
    max_tokens: request.max_tokens,
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    queue_wait_ms: null,
    latency_ms: null,
    ttft_ms: null,
    total_ms: null,
    connect_ms: null,
    ttfb_ms: null,
    attempts: 0,
    retries: {},
    rate_limited: 0,
    status_code: null,
    error_type: null,
    request_id: null,
    cost_usd: 0,
  };
}
