/**
 * The job schema (docs/reference/job.md) and the job record (docs/reference/record.md).
 *
 * {@link validateJob} is the one validator used at every entrance: HTTP, CLI, library, backfill and
 * the worker (for jobs added straight to BullMQ by another language's client). The schema is one zod
 * schema ({@link jobSchema}): it type-checks every Messages API parameter promptq knows (following
 * the SDK's `MessageCreateParams`), forwards the ones it does not know to the API, which stays the
 * authority, and is published as JSON Schema ({@link jobJsonSchema}).
 */
import { z } from 'zod';
import { defaults } from './config.js';
import { PromptqError } from './errors.js';

/** A message in Anthropic format. Content blocks are passed to the API as they are. */
export interface Message {
  role: 'user' | 'assistant';
  content: string | Array<Record<string, unknown>>;
}

/**
 * What a caller submits: any Messages API request (the typed fields below, and any other the API
 * takes, forwarded as given), with `prompt` instead of `messages` if it likes, and promptq's own
 * fields (`tenant_id`, `id`, `priority`, `fallback_models`, `betas`).
 */
export interface KnownJobFields {
  model: string;
  max_tokens: number;
  messages?: Message[];
  prompt?: string;
  system?: string | Array<Record<string, unknown>>;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop_sequences?: string[];
  metadata?: { user_id?: string | null };
  tools?: Array<Record<string, unknown>>;
  tool_choice?: Record<string, unknown>;
  thinking?: Record<string, unknown>;
  service_tier?: 'auto' | 'standard_only';
  tenant_id?: string;
  /** Idempotency key: `[A-Za-z0-9_-]{1,128}`. */
  id?: string;
  /** 1 = highest. */
  priority?: number;
  /** Models to try, in order, when `model` is overloaded or retired (opt-in). */
  fallback_models?: string[];
  /** Beta flags sent as the `anthropic-beta` header of this job's calls. */
  betas?: string[];
}

/** A job body: the known fields, and fields promptq does not know yet (forwarded to the API). */
export type JobBody = KnownJobFields & { [field: string]: unknown };

/**
 * A validated job: `prompt` turned into `messages`, `tenant_id` mirrored into `metadata.user_id`;
 * `id` and `priority` live in the BullMQ job, not in its data.
 */
export type JobRequest = Omit<KnownJobFields, 'messages' | 'prompt' | 'id' | 'priority'> & {
  messages: Message[];
  [field: string]: unknown;
};

/** promptq's own fields of a request: never sent to the API as body fields. */
export const promptqFields = ['tenant_id', 'fallback_models', 'betas'] as const;

/** The price of one call, part by part, in USD (docs/reference/record.md). */
export interface CostParts {
  input: number;
  output: number;
  cache_write_5m: number;
  cache_write_1h: number;
  cache_read: number;
  /** Server tools billed per use (web search per request). */
  server_tools: number;
  /** The long-context tier applied (input over the model's threshold). */
  long_context: boolean;
  /** The service tier the API reported (`standard`, `priority`, `batch`). */
  service_tier: string;
  /** The Message Batches discount applied. */
  batch: boolean;
}

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
  /** `cache_creation_input_tokens` by lifetime (from `usage.cache_creation`). */
  cache_creation_5m_input_tokens: number;
  cache_creation_1h_input_tokens: number;
  /** Server-tool uses billed per request (`usage.server_tool_use`). */
  web_search_requests: number;
  web_fetch_requests: number;
  service_tier: string | null;
  stop_reason: string | null;
  /** The model that answered (a fallback model when `fallback_reason` is set). */
  served_model: string | null;
  /** Why the job moved to a fallback model: `overloaded` or `not_found`; `null` when it did not. */
  fallback_reason: string | null;
  /** Overloaded answers in a row from the model tried last (resets on any other answer). */
  overloaded_in_a_row: number;
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
  /** `null` when the model has no known price: never guessed. */
  cost_usd: number | null;
  cost: CostParts | null;
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

const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);
export const jobIdPattern = /^[A-Za-z0-9_-]{1,128}$/;
/** A field name promptq forwards without knowing it: what API parameter names look like. */
const forwardableName = /^[a-z][a-z0-9_]{0,63}$/;
const maxDepth = 32;
/** Largest user priority (BullMQ's 2^21 is shared with the tenant rank: see fairness.ts). */
export const maxPriority = defaults.maxPriority;
/** C0/C1 controls, and the bidirectional overrides and isolates that make a name read differently. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const controlOrBidi = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

// ---------------------------------------------------------------------------------------------
// The schema. Objects are loose (fields inside them that promptq does not know are forwarded),
// except where the API itself takes a closed set (cache_control, metadata).

const cacheControl = z.strictObject({
  type: z.literal('ephemeral'),
  ttl: z.enum(['5m', '1h']).optional(),
});

/** Re-add the issues of a nested parse to the outer value, one per unknown key. */
function relay(ctx: z.RefinementCtx, issues: ReadonlyArray<z.core.$ZodIssue>): void {
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        ctx.addIssue({
          code: 'custom',
          message: 'unknown field',
          path: [...issue.path, key] as PropertyKey[],
        });
      }
    } else {
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as PropertyKey[] });
    }
  }
}

/** A string or a list of `item`, checked as whichever it is (a plain union would name neither). */
function stringOrList(str: z.ZodString, list: z.ZodArray<z.ZodType>, what: string) {
  const schema = z.unknown().superRefine((v, ctx) => {
    if (typeof v === 'string') {
      const r = str.safeParse(v);
      if (!r.success) relay(ctx, r.error.issues);
    } else if (Array.isArray(v)) {
      const r = list.safeParse(v);
      if (!r.success) relay(ctx, r.error.issues);
    } else {
      ctx.addIssue({ code: 'custom', message: `must be ${what}` });
    }
  });
  unionSchemas.set(schema, z.union([str, list]));
  return schema;
}
const unionSchemas = new Map<z.ZodType, z.ZodType>();

/** `{type: ...}` objects checked by the schema of their type; types promptq does not know pass. */
function byType(label: string, known: Record<string, z.ZodType>) {
  const schema = z.looseObject({ type: z.string() }).superRefine((value, ctx) => {
    const s = Object.hasOwn(known, value.type) ? known[value.type] : undefined;
    if (!s) return;
    const r = s.safeParse(value);
    if (!r.success) relay(ctx, r.error.issues);
  });
  typedUnions.set(schema, { label, known });
  return schema;
}
const typedUnions = new Map<z.ZodType, { label: string; known: Record<string, z.ZodType> }>();

const citationsConfig = z.looseObject({ enabled: z.boolean() });
const textBlock = z.looseObject({
  type: z.literal('text'),
  text: z.string().min(1, 'text content blocks must be non-empty'),
  cache_control: cacheControl.nullish(),
  citations: z.array(z.looseObject({ type: z.string() })).nullish(),
});
const imageSource = byType('image source', {
  base64: z.looseObject({
    type: z.literal('base64'),
    media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']),
    data: z.string().min(1),
  }),
  url: z.looseObject({ type: z.literal('url'), url: z.string().min(1) }),
  file: z.looseObject({ type: z.literal('file'), file_id: z.string().min(1) }),
});
const documentSource = byType('document source', {
  base64: z.looseObject({
    type: z.literal('base64'),
    media_type: z.literal('application/pdf'),
    data: z.string().min(1),
  }),
  text: z.looseObject({ type: z.literal('text'), media_type: z.literal('text/plain'), data: z.string() }),
  content: z.looseObject({
    type: z.literal('content'),
    content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]),
  }),
  url: z.looseObject({ type: z.literal('url'), url: z.string().min(1) }),
  file: z.looseObject({ type: z.literal('file'), file_id: z.string().min(1) }),
});
const toolResultContent = byType('tool result content block', {
  text: textBlock,
  image: z.looseObject({
    type: z.literal('image'),
    source: imageSource,
    cache_control: cacheControl.nullish(),
  }),
});

/** Content blocks (messages and system): every type of the SDK's `ContentBlockParam` promptq checks. */
const contentBlock = byType('content block', {
  text: textBlock,
  image: z.looseObject({
    type: z.literal('image'),
    source: imageSource,
    cache_control: cacheControl.nullish(),
  }),
  document: z.looseObject({
    type: z.literal('document'),
    source: documentSource,
    title: z.string().nullish(),
    context: z.string().nullish(),
    citations: citationsConfig.nullish(),
    cache_control: cacheControl.nullish(),
  }),
  search_result: z.looseObject({
    type: z.literal('search_result'),
    source: z.string(),
    title: z.string(),
    content: z.array(textBlock).min(1),
    citations: citationsConfig.nullish(),
    cache_control: cacheControl.nullish(),
  }),
  tool_use: z.looseObject({
    type: z.literal('tool_use'),
    id: z.string().min(1),
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown()),
    cache_control: cacheControl.nullish(),
  }),
  tool_result: z.looseObject({
    type: z.literal('tool_result'),
    tool_use_id: z.string().min(1),
    content: stringOrList(
      z.string(),
      z.array(toolResultContent),
      'a string or an array of content blocks',
    ).optional(),
    is_error: z.boolean().optional(),
    cache_control: cacheControl.nullish(),
  }),
  thinking: z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() }),
  redacted_thinking: z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() }),
  server_tool_use: z.looseObject({
    type: z.literal('server_tool_use'),
    id: z.string().min(1),
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown()),
  }),
});

const content = stringOrList(
  z.string().min(1, 'must not be empty'),
  z.array(contentBlock).min(1, 'must not be an empty list'),
  'a non-empty string or an array of content blocks',
);

const message = z.strictObject({ role: z.enum(['user', 'assistant']), content });

const customTool = z.looseObject({
  type: z.literal('custom').optional(),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,128}$/, 'must match [a-zA-Z0-9_-]{1,128}'),
  description: z.string().optional(),
  input_schema: z.looseObject({ type: z.literal('object') }),
  cache_control: cacheControl.nullish(),
});
/** A client tool (no `type`, or `custom`) or a server tool (`web_search_20250305`, …: any other type). */
const tool = z.looseObject({ type: z.string().optional() }).superRefine((t, ctx) => {
  const schema =
    t.type === undefined || t.type === 'custom'
      ? customTool
      : z.looseObject({ type: z.string(), name: z.string().min(1), cache_control: cacheControl.nullish() });
  const r = schema.safeParse(t);
  if (!r.success) relay(ctx, r.error.issues);
});
typedUnions.set(tool, { label: 'tool', known: { custom: customTool } });

const toolChoice = byType('tool_choice', {
  auto: z.looseObject({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  any: z.looseObject({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  none: z.looseObject({ type: z.literal('none') }),
  tool: z.looseObject({
    type: z.literal('tool'),
    name: z.string().min(1),
    disable_parallel_tool_use: z.boolean().optional(),
  }),
});

const thinking = byType('thinking', {
  enabled: z.looseObject({ type: z.literal('enabled'), budget_tokens: z.int().min(1024) }),
  disabled: z.looseObject({ type: z.literal('disabled') }),
  adaptive: z.looseObject({ type: z.literal('adaptive') }),
});

const modelName = z
  .string()
  .min(1)
  .max(256)
  .refine((m) => !controlOrBidi.test(m), 'must not contain control or bidirectional characters');

/** The job schema for the given limits. Every field promptq knows; others are forwarded. */
export function jobSchema(limits: JobLimits = defaultJobLimits) {
  return z.looseObject({
    model: modelName,
    max_tokens: z.int().min(1).max(limits.maxTokens),
    messages: z.array(message).min(1).max(limits.maxMessages).optional(),
    prompt: z.string().min(1).optional(),
    system: stringOrList(
      z.string(),
      z.array(contentBlock).min(1, 'must not be an empty list'),
      'a string or an array of content blocks',
    ).optional(),
    temperature: z.number().min(0).max(1).optional(),
    top_p: z.number().min(0).max(1).optional(),
    top_k: z.int().min(0).optional(),
    stop_sequences: z.array(z.string().min(1)).max(16).optional(),
    metadata: z.strictObject({ user_id: z.string().max(256).nullish() }).optional(),
    stream: z.boolean().optional(),
    service_tier: z.enum(['auto', 'standard_only']).optional(),
    tools: z.array(tool).optional(),
    tool_choice: toolChoice.optional(),
    thinking: thinking.optional(),
    tenant_id: z
      .string()
      .regex(/^[^\s]{1,128}$/, 'must be a string of 1-128 characters without spaces')
      .refine((t) => !controlOrBidi.test(t), 'must not contain control or bidirectional characters')
      .optional(),
    id: z.string().regex(jobIdPattern, 'must match [A-Za-z0-9_-]{1,128}').optional(),
    priority: z.int().min(1).max(maxPriority).optional(),
    fallback_models: z.array(modelName).min(1).max(8).optional(),
    betas: z
      .array(z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must match [A-Za-z0-9._-]{1,128}'))
      .max(32)
      .optional(),
  });
}

const defaultSchema = jobSchema();
const schemas = new Map<string, ReturnType<typeof jobSchema>>();

/** Built once per distinct limits: a backfill validates every line with the same schema. */
function schemaFor(limits: JobLimits): ReturnType<typeof jobSchema> {
  if (limits === defaultJobLimits) return defaultSchema;
  const key = `${limits.maxTokens}/${limits.maxMessages}`;
  let s = schemas.get(key);
  if (!s) {
    s = jobSchema(limits);
    schemas.set(key, s);
  }
  return s;
}

/** The job schema as JSON Schema (draft 2020-12), for docs and the OpenAPI document. */
export function jobJsonSchema(): Record<string, unknown> {
  return toJsonSchema(defaultSchema);
}

/** zod's JSON Schema, with the hand-dispatched unions above spelled out as `anyOf`. */
function toJsonSchema(schema: z.ZodType, nested = false): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    unrepresentable: 'any',
    io: 'input',
    override: (ctx) => {
      const self = ctx.zodSchema as unknown as z.ZodType;
      if (self === schema) return;
      const union = unionSchemas.get(self);
      if (union) {
        Object.assign(ctx.jsonSchema, toJsonSchema(union, true));
        return;
      }
      const typed = typedUnions.get(self);
      if (!typed) return;
      const names = Object.keys(typed.known);
      ctx.jsonSchema.description = `a ${typed.label}: the types below are checked, other types are forwarded`;
      ctx.jsonSchema.anyOf = [
        ...Object.values(typed.known).map((k) => toJsonSchema(k, true)),
        { type: 'object', properties: { type: { not: { enum: names } } } },
      ];
    },
  }) as Record<string, unknown>;
  if (nested) delete json.$schema;
  return json;
}

// ---------------------------------------------------------------------------------------------

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

/** Levenshtein distance, bounded: enough to tell a typo of a known field from a new API field. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

const knownFields = Object.keys(defaultSchema.shape);

/**
 * A top-level field the schema does not know is forwarded when it looks like an API parameter
 * name; a near miss of a known field (`max_token`) is a typo, refused so it is not silently ignored.
 */
function checkUnknownField(key: string): FieldProblem | null {
  if (knownFields.includes(key)) return null;
  if (!forwardableName.test(key)) return { field: key, message: 'unknown field' };
  const near = knownFields.find((k) => k.length >= 4 && editDistance(k, key) <= 2);
  if (near !== undefined) return { field: key, message: `unknown field (did you mean "${near}"?)` };
  return null;
}

function pathOf(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? 'body' : path.map(String).join('.');
}

/**
 * Validate a job body. Returns the normalized request plus the idempotency id and priority, or throws
 * {@link ValidationError} naming every bad field.
 */
export function validateJob(
  body: unknown,
  limits: JobLimits = defaultJobLimits,
): { request: JobRequest; id: string | undefined; priority: number | undefined } {
  if (!isPlainObject(body)) {
    throw new ValidationError([{ field: 'body', message: `must be a JSON object, got ${describe(body)}` }]);
  }
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(body)) {
    const p = forbiddenKeys.has(key) ? { field: key, message: 'unknown field' } : checkUnknownField(key);
    if (p) problems.push(p);
  }
  checkTree(body, 'body', limits, problems);
  if (problems.length > 0)
    throw new ValidationError(problems.map((p) => ({ ...p, field: p.field.replace(/^body\./, '') })));

  const schema = schemaFor(limits);
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          problems.push({ field: pathOf([...issue.path, key]), message: 'unknown field' });
        continue;
      }
      const field = pathOf(issue.path);
      const message =
        field === 'max_tokens' ? `required: an integer from 1 to ${limits.maxTokens}` : issue.message;
      problems.push({ field, message });
    }
  }
  const b = body as Record<string, unknown>;
  const hasMessages = b.messages !== undefined;
  const hasPrompt = b.prompt !== undefined;
  if (b.model === undefined) problems.push({ field: 'model', message: 'required: a model name string' });
  if (b.max_tokens === undefined) {
    problems.push({ field: 'max_tokens', message: `required: an integer from 1 to ${limits.maxTokens}` });
  }
  if (hasMessages && hasPrompt) {
    problems.push({ field: 'prompt', message: 'give either "messages" or "prompt", not both' });
  } else if (!hasMessages && !hasPrompt) {
    problems.push({
      field: 'messages',
      message: 'required: "messages" (Anthropic format) or "prompt" (a string)',
    });
  } else if (hasMessages && Array.isArray(b.messages) && problems.length === 0) {
    const first = b.messages[0] as { role?: unknown } | undefined;
    if (first?.role !== 'user') {
      problems.push({ field: 'messages.0.role', message: 'the first message must have role "user"' });
    }
  }
  const think = b.thinking as { type?: unknown; budget_tokens?: unknown } | undefined;
  if (
    problems.length === 0 &&
    think?.type === 'enabled' &&
    typeof think.budget_tokens === 'number' &&
    think.budget_tokens >= (b.max_tokens as number)
  ) {
    problems.push({ field: 'thinking.budget_tokens', message: 'must be less than max_tokens' });
  }
  if (problems.length > 0) throw new ValidationError(problems);

  const { prompt, messages, id, priority, tenant_id: tenant, metadata, ...rest } = b;
  const request = { ...rest } as JobRequest;
  request.messages = hasPrompt ? [{ role: 'user', content: prompt as string }] : (messages as Message[]);
  // The API's `stream` is promptq's choice (it always streams): not part of the job.
  delete request.stream;
  if (typeof tenant === 'string') {
    request.tenant_id = tenant;
    request.metadata = { ...(metadata as object | undefined), user_id: tenant };
  } else if (metadata !== undefined) {
    request.metadata = metadata as JobRequest['metadata'];
  }
  return { request, id: id as string | undefined, priority: priority as number | undefined };
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
    cache_creation_5m_input_tokens: 0,
    cache_creation_1h_input_tokens: 0,
    web_search_requests: 0,
    web_fetch_requests: 0,
    service_tier: null,
    stop_reason: null,
    served_model: null,
    fallback_reason: null,
    overloaded_in_a_row: 0,
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
    cost: null,
  };
}
