/**
 * A fast local estimate of a request's input tokens (no network): about 4 characters per token for
 * text, plus a small overhead per message. The limiter corrects it with the real usage afterwards.
 */
import { createHash } from 'node:crypto';
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
