/**
 * The job schema (docs/reference/job.md) and the job record (docs/reference/record.md).
 *
 * {@link validateJob} is the one validator used at every entrance: HTTP, CLI, library, backfill and
 * the worker (for jobs added straight to BullMQ by another language's client). The schema is one zod
 * schema ({@link jobSchema}): it type-checks every Messages API parameter promptq knows (following
 * the SDK's `MessageCreateParams`), forwards the ones it does not know to the API, which stays the
 * authority, and is published as JSON Schema ({@link jobJsonSchema}).
 */
import { parseDeadline, type RouteChoice } from './deadline.js';
import { PromptqError } from './errors.js';
import { defaultJobLimits, defaultSchema, type JobLimits, schemaFor, speedProblems } from './job-schema.js';

/** A message in Anthropic format. Content blocks are passed to the API as they are. */
export interface Message {
  role: 'user' | 'assistant';
  content: string | Array<Record<string, unknown>>;
}

/**
 * What a caller submits: any Messages API request (the typed fields below, and any other the API
 * takes, forwarded as given), with `prompt` instead of `messages` if it likes, and promptq's own
 * fields (`tenant_id`, `id`, `priority`, `fallback_models`, `betas`, `webhook`).
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
  /** `fast`: fast mode (dearer, faster output), limited and paced in a bucket of its own. */
  speed?: 'standard' | 'fast';
  tenant_id?: string;
  /** Idempotency key: `[A-Za-z0-9_-]{1,128}`. */
  id?: string;
  /** 1 = highest. */
  priority?: number;
  /** Models to try, in order, when `model` is overloaded or retired (opt-in). */
  fallback_models?: string[];
  /** Beta flags sent as the `anthropic-beta` header of this job's calls. */
  betas?: string[];
  /** Where `job.completed` / `job.failed` is delivered, signed (docs/events.md). */
  webhook?: { url: string };
  /** The account (or accounts to choose from) that may serve the job; default: every one serving its model. */
  account?: string | string[];
  /** On overload (529) or an account's outage, move to another eligible account (opt-in). */
  account_fallback?: boolean;
  /** When the answer is needed: an RFC 3339 time, or a duration (`"6h"`); stored as an RFC 3339 time. */
  deadline?: string;
  /** `live`, `batch`, or `auto` (the default with a deadline: the cheapest route that meets it). */
  route?: RouteChoice;
}

/** A job body: the known fields, and fields promptq does not know yet (forwarded to the API). */
export type JobBody = KnownJobFields & { [field: string]: unknown };

/**
 * A validated job: `prompt` turned into `messages`, `tenant_id` mirrored into `metadata.user_id` when
 * the caller gave no `metadata.user_id` of its own;
 * `id` and `priority` live in the BullMQ job, not in its data.
 */
export type JobRequest = Omit<KnownJobFields, 'messages' | 'prompt' | 'id' | 'priority'> & {
  messages: Message[];
  [field: string]: unknown;
};

/** promptq's own fields of a request: never sent to the API as body fields. */
export const promptqFields = [
  'tenant_id',
  'fallback_models',
  'betas',
  'webhook',
  'account',
  'account_fallback',
  'deadline',
  'route',
] as const;

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

const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);
/** A field name promptq forwards without knowing it: what API parameter names look like. */
const forwardableName = /^[a-z][a-z0-9_]{0,63}$/;
const maxDepth = 32;

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
  if (problems.length === 0) problems.push(...speedProblems(b));
  if (problems.length > 0) throw new ValidationError(problems);

  const { prompt, messages, id, priority, tenant_id: tenant, metadata, ...rest } = b;
  const request = { ...rest } as JobRequest;
  request.messages = hasPrompt ? [{ role: 'user', content: prompt as string }] : (messages as Message[]);
  // The API's `stream` is promptq's choice (it always streams): not part of the job.
  delete request.stream;
  if (typeof tenant === 'string') {
    request.tenant_id = tenant;
    // The caller's own end-user id is kept; the tenant stands in only when the caller gave none.
    const own = (metadata as JobRequest['metadata'])?.user_id;
    request.metadata = { ...(metadata as object | undefined), user_id: own ?? tenant };
  } else if (metadata !== undefined) {
    request.metadata = metadata as JobRequest['metadata'];
  }
  // A duration counts from now: stored as the time it names, so it does not move when read again.
  if (typeof request.deadline === 'string')
    request.deadline = new Date(parseDeadline(request.deadline, Date.now()) as number).toISOString();
  return { request, id: id as string | undefined, priority: priority as number | undefined };
}
