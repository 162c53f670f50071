/**
 * The job schema as zod (docs/reference/job.md): every Messages API parameter promptq knows,
 * following the SDK's `MessageCreateParams`, and its JSON Schema form ({@link jobJsonSchema}).
 * {@link validateJob} in `job.ts` runs it; nothing else should need to.
 */
import { z } from 'zod';
import { deadlineFormat, parseDeadline, routeChoices } from './deadline.js';
import { defaults } from './defaults.js';
import { maxUserPriority } from './fairness.js';
import type { JobLimits } from './settings.js';

export type { JobLimits } from './settings.js';

/** The limits of a configuration that sets none (`defaults.jobs.limits`). */
export const defaultJobLimits: JobLimits = defaults.jobs.limits;

export const jobIdPattern = /^[A-Za-z0-9_-]{1,128}$/;
/** An account of the accounts file, by name (providers/accounts.ts). */
const accountName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be an account name: 1-64 characters from A-Z a-z 0-9 _ . -');

/** Largest user priority (BullMQ's 2^21 is shared with the tenant rank: see fairness.ts). */
export const maxPriority = maxUserPriority;
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
  .min(1, 'must not be empty: a model name, e.g. claude-haiku-4-5')
  .max(256, 'at most 256 characters')
  .refine((m) => !controlOrBidi.test(m), 'must not contain control or bidirectional characters');

/**
 * A webhook receiver: an `http(s)` URL without credentials. Where it points (no private address)
 * is checked at enqueue and again at connect (events/webhooks/address-guard.ts).
 */
export const webhookUrl = z
  .string()
  .max(2048)
  .refine((u) => webhookUrlProblem(u) === undefined, { error: (i) => webhookUrlProblem(String(i.input)) });

/** Why a string is not a webhook URL; `undefined` when it is one. */
export function webhookUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
  if (url.username !== '' || url.password !== '') return 'must not carry a user or password';
  return undefined;
}

/**
 * `speed: "fast"` on a model that has no fast mode: the API's docs name Opus-class models only
 * (Claude Opus 5.5, Opus 5, Fable 5.2, Mythos 5.2 as of 2026-12) and never Sonnet or Haiku. Sonnet
 * and Haiku models (the job's and its `fallback_models`) are refused here; any other model is
 * accepted, and the API's own error answers it if it has no fast mode.
 */
export function speedProblems(body: Record<string, unknown>): Array<{ field: string; message: string }> {
  if (body.speed !== 'fast') return [];
  const noFast = (m: unknown) => typeof m === 'string' && /sonnet|haiku/i.test(m);
  const message =
    'speed "fast" is not available on Sonnet or Haiku models (fast mode runs on Opus-class models)';
  const problems = noFast(body.model) ? [{ field: 'speed', message }] : [];
  const fallbacks = Array.isArray(body.fallback_models) ? body.fallback_models : [];
  fallbacks.forEach((m, i) => {
    if (noFast(m)) problems.push({ field: `fallback_models.${i}`, message });
  });
  return problems;
}

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
    speed: z.enum(['standard', 'fast']).optional(),
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
    webhook: z.strictObject({ url: webhookUrl }).optional(),
    account: z.union([accountName, z.array(accountName).min(1).max(16)]).optional(),
    account_fallback: z.boolean().optional(),
    deadline: z
      .string()
      .max(64)
      .refine((d) => parseDeadline(d, 0) !== null, deadlineFormat)
      .optional(),
    route: z.enum(routeChoices).optional(),
    betas: z
      .array(z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must match [A-Za-z0-9._-]{1,128}'))
      .max(32)
      .optional(),
  });
}

export const defaultSchema = jobSchema();
const schemas = new Map<string, ReturnType<typeof jobSchema>>();

/** Built once per distinct limits: a backfill validates every line with the same schema. */
export function schemaFor(limits: JobLimits): ReturnType<typeof jobSchema> {
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
