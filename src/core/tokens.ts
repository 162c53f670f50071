/**
 * A fast local estimate of a request's input tokens (no network): about 4 characters per token for
 * text, plus a small overhead per message. The limiter corrects it with the real usage afterwards.
 */

import { createHash } from 'node:crypto';
import { imageSize } from 'image-size';
import type { JobRequest } from './job.js';

function textLength(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (Array.isArray(content)) return content.reduce((n: number, b) => n + textLength(b), 0);
  if (typeof content === 'object' && content !== null) {
    const block = content as Record<string, unknown>;
    if (typeof block.text === 'string') return block.text.length;
    // Images and documents: a flat guess (the API bills images at roughly 1.6k tokens each).
    if (block.type === 'image' || block.type === 'document') return 6000;
    return JSON.stringify(block).length;
  }
  return 0;
}

export function estimateInputTokens(request: Pick<JobRequest, 'messages' | 'system' | 'tools'>): number {
  // Tool definitions are input too (their JSON schemas, as the API renders them).
  let chars = textLength(request.system) + (request.tools ? JSON.stringify(request.tools).length : 0);
  for (const m of request.messages) chars += textLength(m.content);
  return Math.ceil(chars / 4) + 4 * request.messages.length + 8;
}

/**
 * The estimated tokens of the prompt's cacheable prefix: every block, in the API's order (tools,
 * system, messages), up to and including the last one marked `cache_control`; 0 when none is.
 * The rest of the prompt is always billed as uncached input.
 */
export function estimateCachePrefixTokens(request: Pick<JobRequest, 'messages' | 'system'>): number {
  return cachePrefix(request).tokens;
}

/** A fingerprint of the cacheable prefix (`undefined` when nothing is marked `cache_control`). */
export function cachePrefixKey(request: Pick<JobRequest, 'messages' | 'system'>): string | undefined {
  const p = cachePrefix(request);
  if (p.blocks.length === 0) return undefined;
  return createHash('sha256').update(JSON.stringify(p.blocks)).digest('base64url').slice(0, 22);
}

function cachePrefix(request: Pick<JobRequest, 'messages' | 'system'>): {
  tokens: number;
  blocks: unknown[];
} {
  const blocks: Array<{ chars: number; cached: boolean; block: unknown }> = [];
  // Tools are not in estimateInputTokens, so they add no tokens here either (they do place a mark).
  const add = (content: unknown, counted = true) => {
    if (Array.isArray(content)) {
      for (const b of content) {
        blocks.push({ chars: counted ? textLength(b) : 0, cached: hasCacheControl(b), block: b });
      }
    } else if (content !== undefined) {
      blocks.push({ chars: textLength(content), cached: false, block: content });
    }
  };
  add((request as { tools?: unknown }).tools, false);
  add(request.system);
  for (const m of request.messages) add(m.content);
  let last = -1;
  blocks.forEach((b, i) => {
    if (b.cached) last = i;
  });
  if (last < 0) return { tokens: 0, blocks: [] };
  const prefix = blocks.slice(0, last + 1);
  const chars = prefix.reduce((n, b) => n + b.chars, 0);
  return { tokens: Math.ceil(chars / 4), blocks: prefix.map((b) => b.block) };
}

function hasCacheControl(block: unknown): boolean {
  return typeof block === 'object' && block !== null && 'cache_control' in block;
}

/**
 * The most input tokens a request can be billed for, before any server tool adds to it: an upper
 * bound, for budget holds (never for pacing, which wants the likely count: {@link estimateInputTokens}).
 * - text (and JSON of tool definitions, tool calls and other blocks): its UTF-8 bytes, since a
 *   tokenizer never makes more than one token of a byte;
 * - images: from their real size (width × height / 750) up to {@link maxImageTokens};
 * - documents: a text document by its bytes; a PDF by its pages (`/Type /Page`) at
 *   {@link pdfPageTokens} each, or the whole context window when its pages cannot be counted
 *   (compressed object streams, URLs, files);
 * - overheads per request, message, system prompt and tool set.
 * Capped at {@link contextWindowTokens}: the API refuses (and does not bill) a longer prompt.
 */
export function maxInputTokens(request: Pick<JobRequest, 'messages' | 'system' | 'tools'>): number {
  let n = 64 + (request.system === undefined ? 0 : 16 + blockBound(request.system));
  if (request.tools && request.tools.length > 0)
    n += toolSetOverheadTokens + utf8(JSON.stringify(request.tools));
  for (const m of request.messages) n += 16 + blockBound(m.content);
  return Math.min(n, contextWindowTokens);
}

/** The largest context window of any model: no billed prompt is longer. */
export const contextWindowTokens = 1_000_000;
/** The most an image can cost, whatever its size (the API scales large images down first). */
export const maxImageTokens = 5_000;
/** The most one PDF page can cost: its text (up to ~3,000 tokens) and an image of the page. */
export const pdfPageTokens = 3_000 + maxImageTokens;
/** The system prompt the API adds when tools are given (a few hundred tokens; server tools more). */
export const toolSetOverheadTokens = 2_000;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

function blockBound(content: unknown): number {
  if (typeof content === 'string') return utf8(content);
  if (Array.isArray(content)) return content.reduce((n: number, b) => n + 8 + blockBound(b), 0);
  if (typeof content !== 'object' || content === null) return 0;
  const block = content as Record<string, unknown>;
  const source = (typeof block.source === 'object' && block.source !== null ? block.source : {}) as Record<
    string,
    unknown
  >;
  if (block.type === 'image') return imageBound(source);
  if (block.type === 'document')
    return documentBound(source) + utf8(JSON.stringify({ ...block, source: null }));
  if (block.type === 'tool_result' && Array.isArray(block.content)) {
    return utf8(JSON.stringify({ ...block, content: null })) + blockBound(block.content);
  }
  return utf8(JSON.stringify(block));
}

function imageBound(source: Record<string, unknown>): number {
  if (source.type !== 'base64' || typeof source.data !== 'string') return maxImageTokens;
  const size = imageDimensions(source.data);
  if (!size) return maxImageTokens;
  // About width × height / 750 (documented); a tenth more and a few tokens of margin.
  return Math.min(maxImageTokens, Math.ceil(((size.width * size.height) / 750) * 1.1) + 16);
}

function documentBound(source: Record<string, unknown>): number {
  if (source.type === 'text' && typeof source.data === 'string') return utf8(source.data);
  if (source.type === 'content') return blockBound(source.content);
  if (source.type !== 'base64' || typeof source.data !== 'string') return contextWindowTokens;
  const pdf = Buffer.from(source.data, 'base64').toString('latin1');
  const pages = (pdf.match(/\/Type\s*\/Page(?!s)/g) ?? []).length;
  // Pages inside compressed object streams cannot be counted: the worst case is the window.
  if (pages === 0 || /\/ObjStm/.test(pdf)) return contextWindowTokens;
  return pages * pdfPageTokens;
}

/**
 * Width and height of a base64 image (PNG, GIF, JPEG, WebP, …) from its header, read by the
 * `image-size` package; `null` when it cannot tell.
 */
function imageDimensions(base64: string): { width: number; height: number } | null {
  try {
    const { width, height } = imageSize(Buffer.from(base64.slice(0, 200_000), 'base64'));
    return width !== undefined && height !== undefined ? { width, height } : null;
  } catch {
    return null;
  }
}
