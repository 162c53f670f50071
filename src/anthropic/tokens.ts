/**
 * A fast local estimate of a request's input tokens (no network): about 4 characters per token for
 * text, plus a small overhead per message. The limiter corrects it with the real usage afterwards.
 */
import type { JobRequest } from '../core/job.js';

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
