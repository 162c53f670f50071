/**
 * The simulator's own token counter. It is deliberately NOT chars/4: promptq's local estimator
 * must be corrected by the usage the API reports, and a simulator that agreed with it would hide
 * that code path from every test.
 */

/** Added once per request (the real API also reports a few tokens more than the text alone). */
export const REQUEST_OVERHEAD_TOKENS = 4;
/** Added per message (role markers). */
export const MESSAGE_OVERHEAD_TOKENS = 3;
/** Added when a system prompt is present. */
export const SYSTEM_OVERHEAD_TOKENS = 3;
/** Flat cost of an image block (the real API charges about width×height/750, at most ~1,600). */
export const IMAGE_TOKENS = 1_600;
/** Flat cost of one page of a non-text document (PDF) block. */
export const DOCUMENT_TOKENS = 1_500;

const RUN = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]+/gu;
const WORD = /^[\p{L}\p{N}_]/u;

/**
 * Tokens in a plain text: each run of letters/digits costs `ceil(length / 5)` (so short words are
 * one token and long ones several, about 1.3 per English word), each run of punctuation or symbols
 * costs `ceil(length / 8)`, and whitespace is free.
 */
export function textTokens(text: string): number {
  let n = 0;
  for (const match of text.matchAll(RUN)) {
    const run = match[0];
    n += WORD.test(run) ? Math.ceil(run.length / 5) : Math.ceil(run.length / 8);
  }
  return n;
}

/** Cache lifetime requested by a `cache_control` breakpoint. */
export type CacheTtl = '5m' | '1h';

/** One block of the prompt in the order the API processes it (tools, system, messages). */
export interface PromptSegment {
  /** Tokens this block adds, overheads included. */
  tokens: number;
  /** Canonical text identifying the block (for prefix hashing), without its `cache_control`. */
  key: string;
  /** Set when the block carries `cache_control: {type: "ephemeral"}`. */
  cacheControl: CacheTtl | null;
}

/** The parts of a request that count as input. */
export interface SimTokenInput {
  system?: unknown;
  messages?: unknown;
  tools?: unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function withoutCacheControl(block: unknown): unknown {
  if (!isRecord(block) || !('cache_control' in block)) return block;
  const { cache_control: _ignored, ...rest } = block;
  return rest;
}

function cacheTtlOf(block: unknown): CacheTtl | null {
  if (!isRecord(block) || !isRecord(block.cache_control)) return null;
  if (block.cache_control.type !== 'ephemeral') return null;
  return block.cache_control.ttl === '1h' ? '1h' : '5m';
}

/** Width and height of a base64 PNG, GIF or JPEG, from its header; null when it cannot tell. */
export function imageSize(base64: string): { width: number; height: number } | null {
  const bytes = Buffer.from(base64.slice(0, 200_000), 'base64');
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47) {
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 10 && bytes.toString('latin1', 0, 3) === 'GIF') {
    return { width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let i = 2;
    while (i + 9 < bytes.length && bytes[i] === 0xff) {
      const marker = bytes[i + 1] ?? 0;
      const length = bytes.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: bytes.readUInt16BE(i + 7), height: bytes.readUInt16BE(i + 5) };
      }
      i += 2 + length;
    }
  }
  return null;
}

/**
 * Tokens of an image, as the API documents it: about width × height / 750, after scaling the image
 * down to fit 1568 pixels on its long edge and 1.15 megapixels; {@link IMAGE_TOKENS} when the size
 * cannot be read (URLs, files, unknown formats).
 */
export function imageTokens(block: Record<string, unknown>): number {
  const source = isRecord(block.source) ? block.source : {};
  const size = source.type === 'base64' && typeof source.data === 'string' ? imageSize(source.data) : null;
  if (!size || size.width <= 0 || size.height <= 0) return IMAGE_TOKENS;
  const scale = Math.min(
    1,
    1568 / Math.max(size.width, size.height),
    Math.sqrt(1_150_000 / (size.width * size.height)),
  );
  const w = Math.max(1, Math.round(size.width * scale));
  const h = Math.max(1, Math.round(size.height * scale));
  return Math.max(1, Math.ceil((w * h) / 750));
}

/** Pages of a base64 PDF (its `/Type /Page` objects), at least 1. */
export function pdfPages(base64: string): number {
  const text = Buffer.from(base64, 'base64').toString('latin1');
  return Math.max(1, (text.match(/\/Type\s*\/Page(?!s)/g) ?? []).length);
}

/** Tokens of one content block (text, image, document, tool_use, tool_result, …). */
export function blockTokens(block: unknown): number {
  if (typeof block === 'string') return textTokens(block);
  if (!isRecord(block)) return textTokens(JSON.stringify(block) ?? '');
  switch (block.type) {
    case 'text':
      return textTokens(typeof block.text === 'string' ? block.text : '');
    case 'image':
      return imageTokens(block);
    case 'document': {
      const source = isRecord(block.source) ? block.source : {};
      if (source.type === 'text' && typeof source.data === 'string') return textTokens(source.data);
      // A PDF page is billed as its text plus an image of the page: a flat count per page here.
      if (source.type === 'base64' && typeof source.data === 'string')
        return DOCUMENT_TOKENS * pdfPages(source.data);
      return DOCUMENT_TOKENS;
    }
    case 'tool_use':
      return 6 + textTokens(String(block.name ?? '')) + textTokens(JSON.stringify(block.input ?? {}));
    case 'tool_result': {
      const content = block.content;
      if (Array.isArray(content)) return 4 + content.reduce((n: number, b) => n + blockTokens(b), 0);
      return 4 + textTokens(typeof content === 'string' ? content : '');
    }
    case 'thinking':
      return textTokens(typeof block.thinking === 'string' ? block.thinking : '');
    default:
      return textTokens(JSON.stringify(withoutCacheControl(block)));
  }
}

/**
 * The prompt as an ordered list of blocks with their token counts: the unit of prompt caching
 * (a breakpoint caches the prefix up to and including its block).
 */
export function promptSegments(input: SimTokenInput): PromptSegment[] {
  const segments: PromptSegment[] = [{ tokens: REQUEST_OVERHEAD_TOKENS, key: 'request', cacheControl: null }];
  if (Array.isArray(input.tools)) {
    for (const tool of input.tools) {
      const json = JSON.stringify(withoutCacheControl(tool));
      segments.push({ tokens: textTokens(json), key: `tool:${json}`, cacheControl: cacheTtlOf(tool) });
    }
  }
  if (typeof input.system === 'string' && input.system.length > 0) {
    const tokens = SYSTEM_OVERHEAD_TOKENS + textTokens(input.system);
    segments.push({ tokens, key: `system:${input.system}`, cacheControl: null });
  } else if (Array.isArray(input.system)) {
    input.system.forEach((block, i) => {
      segments.push({
        tokens: (i === 0 ? SYSTEM_OVERHEAD_TOKENS : 0) + blockTokens(block),
        key: `system:${JSON.stringify(withoutCacheControl(block))}`,
        cacheControl: cacheTtlOf(block),
      });
    });
  }
  if (Array.isArray(input.messages)) {
    for (const message of input.messages) {
      if (!isRecord(message)) continue;
      const role = String(message.role);
      const blocks = typeof message.content === 'string' ? [message.content] : message.content;
      if (!Array.isArray(blocks)) continue;
      blocks.forEach((block, i) => {
        segments.push({
          tokens: (i === 0 ? MESSAGE_OVERHEAD_TOKENS : 0) + blockTokens(block),
          // The role and message start are part of the identity: the same text said by the other
          // side, or merged into the previous message, is a different prompt.
          key: `${i === 0 ? `${role}>` : '+'}${JSON.stringify(withoutCacheControl(block))}`,
          cacheControl: cacheTtlOf(block),
        });
      });
    }
  }
  return segments;
}

/**
 * The simulator's "tokenizer". For a string: the tokens of that text alone (see
 * {@link textTokens}: letter/digit runs cost ceil(len/5), punctuation runs ceil(len/8),
 * whitespace nothing). For a request (`{system, messages, tools}`): the total input tokens the
 * simulator bills before any caching split — the text plus 4 per request, 3 per message, 3 for a
 * system prompt, 1,600 per image and 1,500 per non-text document — which is also what
 * `POST /v1/messages/count_tokens` returns.
 */
export function estimateSimTokens(input: string | SimTokenInput): number {
  if (typeof input === 'string') return textTokens(input);
  return promptSegments(input).reduce((n, s) => n + s.tokens, 0);
}
