/**
 * The content of one answer as blocks, the way the real API shapes them: a thinking block with a
 * signature when `thinking` is enabled (and a `redacted_thinking` block when the prompt asks for one:
 * redacted-thinking.ts), a web search (server_tool_use + web_search_tool_result)
 * when a web search tool is offered, a `tool_use` block whose input matches the tool's input schema
 * when `tool_choice` forces a tool, and a text block — with a citation when the prompt carries a
 * document with citations enabled. Each block knows its streaming form (start block, deltas) and
 * its non-streaming form, so both paths return the same message.
 */
import { randomBytes } from 'node:crypto';
import type { SimCitation, SimContentBlock, SimWebSearchToolResultBlock } from './message-types.js';
import type { OutputPlan, StopReason } from './output.js';
import { asksForRedaction, redactedThinkingData } from './redacted-thinking.js';
import { type Rng, randomId } from './rng.js';

/** One block of an answer. */
export interface BlockPlan {
  /** `content_block_start.content_block`. */
  start: Record<string, unknown>;
  /** `content_block_delta.delta`s, each worth `tokens` output tokens (0 for signatures, citations). */
  deltas: Array<{ delta: Record<string, unknown>; tokens: number }>;
  /** The block in a non-streaming message. */
  final: SimContentBlock;
}

export interface ContentPlan {
  blocks: BlockPlan[];
  stopReason: StopReason;
  stopSequence: string | null;
  outputTokens: number;
  /** `usage.server_tool_use`, when a server tool ran. */
  serverToolUse: { web_search_requests: number; web_fetch_requests: number } | null;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A value that satisfies a JSON Schema (the subset tool schemas use). */
export function sampleFromSchema(schema: unknown, rng: Rng, depth = 0): unknown {
  if (!isRecord(schema) || depth > 6) return null;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const props = isRecord(schema.properties) ? schema.properties : {};
      const required = Array.isArray(schema.required) ? (schema.required as string[]) : Object.keys(props);
      const out: Json = {};
      for (const key of Object.keys(props)) {
        if (required.includes(key)) out[key] = sampleFromSchema(props[key], rng, depth + 1);
      }
      return out;
    }
    case 'array':
      return [sampleFromSchema(schema.items, rng, depth + 1)];
    case 'integer': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : 0;
      return Math.ceil(min) + Math.floor(rng() * 10);
    }
    case 'number': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : 0;
      return min + Math.round(rng() * 1000) / 100;
    }
    case 'boolean':
      return rng() < 0.5;
    case 'null':
      return null;
    default:
      return 'sample';
  }
}

function signature(): string {
  // The real signatures are opaque base64 blobs of a few hundred bytes.
  return randomBytes(96).toString('base64');
}

function textBlock(pieces: string[], tokensPerDelta: number, citations: SimCitation[] | null): BlockPlan {
  const deltas: BlockPlan['deltas'] = [];
  for (let i = 0; i < pieces.length; i += tokensPerDelta) {
    const chunk = pieces.slice(i, i + tokensPerDelta);
    deltas.push({ delta: { type: 'text_delta', text: chunk.join('') }, tokens: chunk.length });
  }
  for (const citation of citations ?? [])
    deltas.push({ delta: { type: 'citations_delta', citation }, tokens: 0 });
  const final: SimContentBlock = { type: 'text', text: pieces.join(''), citations };
  return { start: { type: 'text', text: '', citations: citations ? [] : null }, deltas, final };
}

function thinkingBlock(pieces: string[], tokensPerDelta: number): BlockPlan {
  const deltas: BlockPlan['deltas'] = [];
  for (let i = 0; i < pieces.length; i += tokensPerDelta) {
    const chunk = pieces.slice(i, i + tokensPerDelta);
    deltas.push({ delta: { type: 'thinking_delta', thinking: chunk.join('') }, tokens: chunk.length });
  }
  const sig = signature();
  deltas.push({ delta: { type: 'signature_delta', signature: sig }, tokens: 0 });
  return {
    start: { type: 'thinking', thinking: '', signature: '' },
    deltas,
    final: { type: 'thinking', thinking: pieces.join(''), signature: sig },
  };
}

/** A tool call: its input streamed as JSON in pieces of about four characters (one token each). */
function toolUseBlock(type: 'tool_use', id: string, name: string, input: Json): BlockPlan;
function toolUseBlock(type: 'server_tool_use', id: string, name: 'web_search', input: Json): BlockPlan;
function toolUseBlock(
  type: 'tool_use' | 'server_tool_use',
  id: string,
  name: string,
  input: Json,
): BlockPlan {
  const json = JSON.stringify(input);
  const deltas: BlockPlan['deltas'] = [];
  for (let i = 0; i < json.length; i += 16) {
    const part = json.slice(i, i + 16);
    deltas.push({
      delta: { type: 'input_json_delta', partial_json: part },
      tokens: Math.ceil(part.length / 4),
    });
  }
  const caller = { type: 'direct' } as const;
  const final =
    type === 'tool_use'
      ? { type, id, name, input, caller }
      : { type, id, name: name as 'web_search', input, caller };
  return { start: { type, id, name, input: {}, caller }, deltas, final };
}

/** The first document with citations enabled in the last user message, as a citation of it. */
function citationFor(messages: unknown): SimCitation[] | null {
  if (!Array.isArray(messages)) return null;
  const last = messages[messages.length - 1];
  if (!isRecord(last) || !Array.isArray(last.content)) return null;
  let index = -1;
  for (const block of last.content) {
    if (!isRecord(block) || block.type !== 'document') continue;
    index++;
    if (!isRecord(block.citations) || block.citations.enabled !== true) continue;
    const source = isRecord(block.source) ? block.source : {};
    const title = typeof block.title === 'string' ? block.title : null;
    if (source.type === 'text' && typeof source.data === 'string') {
      const cited = source.data.slice(0, 120);
      return [
        {
          type: 'char_location',
          cited_text: cited,
          document_index: index,
          document_title: title,
          start_char_index: 0,
          end_char_index: cited.length,
          file_id: null,
        },
      ];
    }
    return [
      {
        type: 'page_location',
        cited_text: 'The first page of the document.',
        document_index: index,
        document_title: title,
        start_page_number: 1,
        end_page_number: 2,
        file_id: null,
      },
    ];
  }
  return null;
}

export interface ContentRequest {
  maxTokens: number;
  messages: unknown;
  tools: unknown;
  toolChoice: unknown;
  thinking: unknown;
}

/**
 * The blocks of one answer. `output` is the text answer drawn as before (its length and stop
 * reason); thinking takes a third of it, a forced tool call replaces the text.
 */
export function planContent(
  req: ContentRequest,
  output: OutputPlan,
  rng: Rng,
  tokensPerDelta: number,
): ContentPlan {
  const blocks: BlockPlan[] = [];
  let pieces = output.pieces;
  let stopReason: ContentPlan['stopReason'] = output.stopReason;
  let serverToolUse: ContentPlan['serverToolUse'] = null;
  const tools = Array.isArray(req.tools) ? req.tools.filter(isRecord) : [];
  const choice = isRecord(req.toolChoice) ? req.toolChoice : { type: 'auto' };

  if (isRecord(req.thinking) && req.thinking.type === 'enabled' && pieces.length >= 2) {
    const n = Math.max(1, Math.floor(pieces.length / 3));
    blocks.push(thinkingBlock(pieces.slice(0, n), tokensPerDelta));
    pieces = pieces.slice(n);
    if (asksForRedaction(req.messages)) {
      // Streamed whole in its start event, like a server tool's result.
      const redacted = { type: 'redacted_thinking', data: redactedThinkingData() } as const;
      blocks.push({ start: { ...redacted }, deltas: [], final: redacted });
    }
  }

  const search = tools.find((t) => typeof t.type === 'string' && t.type.startsWith('web_search_'));
  if (search && choice.type !== 'none' && choice.type !== 'tool') {
    const id = randomId('srvtoolu_');
    blocks.push(toolUseBlock('server_tool_use', id, 'web_search', { query: 'promptq' }));
    const result: SimWebSearchToolResultBlock = {
      type: 'web_search_tool_result',
      caller: { type: 'direct' },
      tool_use_id: id,
      content: [
        {
          type: 'web_search_result',
          url: 'https://example.com/promptq',
          title: 'promptq',
          encrypted_content: randomBytes(48).toString('base64'),
          page_age: null,
        },
      ],
    };
    blocks.push({ start: { ...result }, deltas: [], final: result });
    serverToolUse = { web_search_requests: 1, web_fetch_requests: 0 };
  }

  const forced =
    choice.type === 'tool'
      ? tools.find((t) => t.name === choice.name)
      : choice.type === 'any'
        ? tools.find((t) => t.type === undefined || t.type === 'custom')
        : undefined;
  const input = forced ? sampleFromSchema(forced.input_schema, rng) : undefined;
  const call = forced
    ? toolUseBlock('tool_use', randomId('toolu_'), String(forced.name), isRecord(input) ? input : {})
    : undefined;
  const tokensOf = (b: BlockPlan) => b.deltas.reduce((m, d) => m + d.tokens, 0);
  const used = blocks.reduce((n, b) => n + tokensOf(b), 0);
  // A call that does not fit in max_tokens is cut off: the answer ends as a plain max_tokens text.
  if (call && stopReason !== 'max_tokens' && used + tokensOf(call) <= req.maxTokens) {
    blocks.push(call);
    stopReason = 'tool_use';
  } else {
    blocks.push(textBlock(pieces, tokensPerDelta, citationFor(req.messages)));
  }
  const outputTokens = blocks.reduce((n, b) => n + tokensOf(b), 0);
  return {
    blocks,
    stopReason,
    stopSequence: stopReason === 'stop_sequence' ? output.stopSequence : null,
    outputTokens: Math.max(1, outputTokens),
    serverToolUse,
  };
}
