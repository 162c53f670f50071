import type { ContentRequest } from './content-plan.js';
import { isKnownModel } from './models.js';
import { isRedactedThinkingData } from './redacted-thinking.js';
import type { SimTokenInput } from './tokenizer.js';

/** A Messages request that passed validation, reduced to what the simulator uses. */
export interface MessagesRequest {
  model: string;
  /** 0 for count_tokens, which takes no `max_tokens`. */
  maxTokens: number;
  stream: boolean;
  stopSequences: string[];
  /** `metadata.user_id`, or null. */
  userId: string | null;
  /** `service_tier`: `standard_only` keeps the request off Priority Tier capacity. */
  serviceTier: 'auto' | 'standard_only';
  /** `speed`: `fast` is served from the model group's fast bucket (`<group>-fast`). */
  speed: 'standard' | 'fast';
  input: SimTokenInput;
  /** What shapes the answer's content blocks. */
  content: ContentRequest;
}

/** A validation failure, as the real API reports it. */
export interface RequestError {
  status: 400 | 404;
  type: 'invalid_request_error' | 'not_found_error';
  message: string;
}

export type Validated = { ok: true; value: MessagesRequest } | { ok: false; error: RequestError };

/** The top-level fields the Messages API takes (the SDK's `MessageCreateParams`); others are refused. */
const API_FIELDS = new Set([
  'model',
  'max_tokens',
  'messages',
  'cache_control',
  'container',
  'context_management',
  'diagnostics',
  'inference_geo',
  'mcp_servers',
  'metadata',
  'output_config',
  'output_format',
  'service_tier',
  'speed',
  'stop_sequences',
  'stream',
  'system',
  'temperature',
  'thinking',
  'tool_choice',
  'tools',
  'top_k',
  'top_p',
  'user_profile_id',
  'workspace_id',
]);

/** The ids of the `tool_use` blocks of a message. */
function toolUseIds(message: unknown): Set<string> {
  const ids = new Set<string>();
  if (isRecord(message) && Array.isArray(message.content)) {
    for (const b of message.content)
      if (isRecord(b) && b.type === 'tool_use' && typeof b.id === 'string') ids.add(b.id);
  }
  return ids;
}

/** Tools, tool choice, thinking and tool results, checked the way the API checks them. */
function checkTools(body: Record<string, unknown>, maxTokens: number | undefined): void {
  const tools = Array.isArray(body.tools) ? body.tools.filter(isRecord) : [];
  tools.forEach((tool, i) => {
    if (tool.type === undefined || tool.type === 'custom') {
      if (typeof tool.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(tool.name)) {
        fail(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      }
      if (!isRecord(tool.input_schema)) fail(`tools.${i}.custom.input_schema: Field required`);
    }
  });
  const choice = body.tool_choice;
  if (choice !== undefined) {
    if (!isRecord(choice) || !['auto', 'any', 'none', 'tool'].includes(String(choice.type))) {
      fail("tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'");
    }
    if (choice.type === 'tool' && !tools.some((t) => t.name === choice.name)) {
      fail(`tool_choice: Tool '${String(choice.name)}' not found in provided tools`);
    }
  }
  const thinking = body.thinking;
  if (isRecord(thinking) && thinking.type === 'enabled') {
    const budget = thinking.budget_tokens;
    if (typeof budget !== 'number' || !Number.isInteger(budget))
      fail('thinking.enabled.budget_tokens: Field required');
    if (budget < 1024) fail('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
    if (maxTokens !== undefined && maxTokens <= budget) {
      fail('`max_tokens` must be greater than `thinking.budget_tokens`');
    }
    if (body.temperature !== undefined && body.temperature !== 1) {
      fail('`temperature` may only be set to 1 when thinking is enabled');
    }
    if (isRecord(choice) && (choice.type === 'any' || choice.type === 'tool')) {
      fail('Thinking may not be enabled when tool_choice forces tool use.');
    }
  }
  const messages = Array.isArray(body.messages) ? body.messages : [];
  messages.forEach((m, i) => {
    if (!isRecord(m) || !Array.isArray(m.content)) return;
    const previous = toolUseIds(messages[i - 1]);
    m.content.forEach((b, j) => {
      if (isRecord(b) && b.type === 'redacted_thinking' && !isRedactedThinkingData(b.data)) {
        fail(`messages.${i}.content.${j}: Invalid \`data\` in \`redacted_thinking\` block`);
      }
      if (!isRecord(b) || b.type !== 'tool_result') return;
      if (typeof b.tool_use_id !== 'string' || !previous.has(b.tool_use_id)) {
        fail(
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(b.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    });
  });
}

/** Real-API limit on `cache_control` breakpoints per request. */
const MAX_CACHE_BREAKPOINTS = 4;
const ROLES = new Set(['user', 'assistant', 'system']);

class Invalid extends Error {}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(message: string): never {
  throw new Invalid(message);
}

/**
 * `speed`: `standard`, `fast` or null. Fast mode runs on some Opus-class models only; Sonnet and
 * Haiku models refuse it, as the API does.
 */
function checkSpeed(speed: unknown, model: string): void {
  if (speed === undefined || speed === null || speed === 'standard') return;
  if (speed !== 'fast') fail("speed: Input should be 'standard' or 'fast'");
  if (/sonnet|haiku/i.test(model)) fail(`speed: fast mode is not supported for model ${model}`);
}

function checkCacheControl(block: Record<string, unknown>, field: string, count: { n: number }): void {
  if (block.cache_control === undefined || block.cache_control === null) return;
  const cc = block.cache_control;
  if (!isRecord(cc)) fail(`${field}.cache_control: Input should be an object`);
  if (cc.type !== 'ephemeral') fail(`${field}.cache_control.type: Input should be 'ephemeral'`);
  if (cc.ttl !== undefined && cc.ttl !== '5m' && cc.ttl !== '1h') {
    fail(`${field}.cache_control.ttl: Input should be '5m' or '1h'`);
  }
  count.n++;
}

/** The fields of a text block (the API refuses others). */
const TEXT_BLOCK_FIELDS = new Set(['type', 'text', 'cache_control', 'citations']);

function checkBlock(block: unknown, field: string, count: { n: number }): void {
  if (!isRecord(block)) fail(`${field}: Input should be a valid dictionary or object`);
  if (typeof block.type !== 'string') fail(`${field}.type: Field required`);
  if (block.type === 'text') {
    if (typeof block.text !== 'string') fail(`${field}.text: Input should be a valid string`);
    if (block.text.length === 0) fail(`${field}.text: text content blocks must be non-empty`);
    const extra = Object.keys(block).find((k) => !TEXT_BLOCK_FIELDS.has(k));
    if (extra !== undefined) fail(`${field}.text.${extra}: Extra inputs are not permitted`);
  }
  checkCacheControl(block, field, count);
}

function checkMessages(messages: unknown, count: { n: number }): void {
  if (messages === undefined) fail('messages: Field required');
  if (!Array.isArray(messages)) fail('messages: Input should be a valid list');
  if (messages.length === 0) fail('messages: at least one message is required');
  messages.forEach((message, i) => {
    const field = `messages.${i}`;
    if (!isRecord(message)) fail(`${field}: Input should be a valid dictionary`);
    if (typeof message.role !== 'string' || !ROLES.has(message.role)) {
      fail(`${field}.role: Input should be 'user' or 'assistant'`);
    }
    if (i === 0 && message.role !== 'user') fail(`${field}.role: first message must use the "user" role`);
    const last = i === messages.length - 1;
    const content = message.content;
    if (content === undefined) fail(`${field}.content: Field required`);
    if (typeof content === 'string') {
      // Only a final assistant message (a prefill) may be empty.
      if (content.length === 0 && !(last && message.role === 'assistant')) {
        fail(`${field}.content: messages must have non-empty content`);
      }
    } else if (Array.isArray(content)) {
      content.forEach((block, j) => {
        checkBlock(block, `${field}.content.${j}`, count);
      });
    } else {
      fail(`${field}.content: Input should be a valid string or a valid list`);
    }
  });
}

function checkSystem(system: unknown, count: { n: number }): void {
  if (system === undefined || typeof system === 'string') return;
  if (!Array.isArray(system)) fail('system: Input should be a valid string or a valid list');
  system.forEach((block, i) => {
    const field = `system.${i}`;
    if (!isRecord(block) || block.type !== 'text') fail(`${field}.type: Input should be 'text'`);
    checkBlock(block, field, count);
  });
}

function checkNumber(body: Record<string, unknown>, key: string, min: number, max: number): void {
  const v = body[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${key}: Input should be a valid number`);
  if (v < min) fail(`${key}: Input should be greater than or equal to ${min}`);
  if (v > max) fail(`${key}: Input should be less than or equal to ${max}`);
}

function checkMaxTokens(value: unknown, model: string, cap: (model: string) => number): number {
  if (value === undefined) fail('max_tokens: Field required');
  if (typeof value !== 'number' || !Number.isInteger(value))
    fail('max_tokens: Input should be a valid integer');
  if (value < 1) fail('max_tokens: Input should be greater than or equal to 1');
  const max = cap(model);
  if (value > max) {
    fail(`max_tokens: ${value} > ${max}, which is the maximum allowed number of output tokens for ${model}`);
  }
  return value;
}

/**
 * Validates a `POST /v1/messages` (or, with `countOnly`, `/v1/messages/count_tokens`) body the
 * way the real API does; messages name the offending field (`messages.0.role: …`).
 */
export function validateMessagesRequest(
  body: unknown,
  maxOutputTokens: (model: string) => number,
  countOnly = false,
): Validated {
  try {
    if (!isRecord(body)) fail('Request body must be a JSON object');
    for (const key of Object.keys(body)) {
      if (!API_FIELDS.has(key)) fail(`${key}: Extra inputs are not permitted`);
    }
    if (body.model === undefined) fail('model: Field required');
    if (typeof body.model !== 'string') fail('model: Input should be a valid string');
    const model = body.model;
    const breakpoints = { n: 0 };
    checkMessages(body.messages, breakpoints);
    checkSystem(body.system, breakpoints);
    if (body.tools !== undefined) {
      if (!Array.isArray(body.tools)) fail('tools: Input should be a valid list');
      body.tools.forEach((tool, i) => {
        if (!isRecord(tool)) fail(`tools.${i}: Input should be a valid dictionary`);
        if (typeof tool.name !== 'string') fail(`tools.${i}.name: Field required`);
        checkCacheControl(tool, `tools.${i}`, breakpoints);
      });
    }
    if (breakpoints.n > MAX_CACHE_BREAKPOINTS) {
      fail(
        `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpoints.n}.`,
      );
    }
    checkNumber(body, 'temperature', 0, 1);
    checkNumber(body, 'top_p', 0, 1);
    if (body.top_k !== undefined && (!Number.isInteger(body.top_k) || (body.top_k as number) < 0)) {
      fail('top_k: Input should be a valid integer greater than or equal to 0');
    }
    let stopSequences: string[] = [];
    if (body.stop_sequences !== undefined) {
      if (!Array.isArray(body.stop_sequences)) fail('stop_sequences: Input should be a valid list');
      body.stop_sequences.forEach((s, i) => {
        if (typeof s !== 'string') fail(`stop_sequences.${i}: Input should be a valid string`);
      });
      stopSequences = body.stop_sequences as string[];
    }
    if (body.metadata !== undefined) {
      if (!isRecord(body.metadata)) fail('metadata: Input should be a valid dictionary');
      const userId = body.metadata.user_id;
      if (userId !== undefined && userId !== null && typeof userId !== 'string') {
        fail('metadata.user_id: Input should be a valid string');
      }
    }
    checkTools(body, typeof body.max_tokens === 'number' ? body.max_tokens : undefined);
    if (body.stream !== undefined && typeof body.stream !== 'boolean')
      fail('stream: Input should be a valid boolean');
    checkSpeed(body.speed, model);
    // The model is looked up after the schema checks, as the real API does.
    if (!isKnownModel(model))
      return { ok: false, error: { status: 404, type: 'not_found_error', message: `model: ${model}` } };
    const maxTokens = countOnly ? 0 : checkMaxTokens(body.max_tokens, model, maxOutputTokens);
    return {
      ok: true,
      value: {
        model,
        maxTokens,
        stream: body.stream === true && !countOnly,
        stopSequences,
        userId:
          isRecord(body.metadata) && typeof body.metadata.user_id === 'string' ? body.metadata.user_id : null,
        serviceTier: body.service_tier === 'standard_only' ? 'standard_only' : 'auto',
        speed: body.speed === 'fast' ? 'fast' : 'standard',
        input: { system: body.system, messages: body.messages, tools: body.tools },
        content: {
          maxTokens,
          messages: body.messages,
          tools: body.tools,
          toolChoice: body.tool_choice,
          thinking: body.thinking,
        },
      },
    };
  } catch (err) {
    if (err instanceof Invalid) {
      return { ok: false, error: { status: 400, type: 'invalid_request_error', message: err.message } };
    }
    throw err;
  }
}
