/**
 * The budget's input bound (core/tokens.ts `maxInputTokens`) is an upper bound of what the
 * simulator's tokenizer bills — a different counter, not chars/4 — for every content type.
 */
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { estimateSimTokens } from '../../packages/anthropic-simulator/src/index.js';
import { contextWindowTokens, estimateInputTokens, maxInputTokens } from '../../src/core/tokens.js';

type Req = Parameters<typeof maxInputTokens>[0];
const user = (content: unknown): Req => ({ messages: [{ role: 'user', content: content as string }] });

/** A PNG header of the given size (the tokenizers read only the header). */
function png(width: number, height: number): string {
  const b = Buffer.alloc(33);
  b.writeUInt32BE(0x89504e47, 0);
  b.writeUInt32BE(0x0d0a1a0a, 4);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b.toString('base64');
}
const pdf = (pages: number) =>
  Buffer.from(`%PDF-1.4\n${'<< /Type /Page >>\n'.repeat(pages)}%%EOF`).toString('base64');

const cases: Array<[string, Req]> = [
  ['plain text', user('the quick brown fox jumps over the lazy dog '.repeat(500))],
  ['dense punctuation', user('a.'.repeat(20_000))],
  ['symbols between spaces', user('! '.repeat(20_000))],
  ['multi-byte text', user('日本語のテキスト。'.repeat(2_000))],
  [
    'tool definitions',
    {
      tools: [{ name: 'lookup', description: 'x;'.repeat(5_000), input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: 'hi' }],
    },
  ],
  [
    'an image by its size',
    user([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png(1000, 1000) } }]),
  ],
  [
    'a PDF by its pages',
    user([{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf(40) } }]),
  ],
  [
    'a text document',
    user([
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'a,'.repeat(30_000) } },
    ]),
  ],
  [
    'a tool result with an image',
    user([
      {
        type: 'tool_result',
        tool_use_id: 't1',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png(1568, 1568) } },
        ],
      },
    ]),
  ],
];

describe('maxInputTokens: an upper bound of the billed input', () => {
  it.each(cases)('%s', (_name, request) => {
    const billed = estimateSimTokens(request as never);
    expect(maxInputTokens(request)).toBeGreaterThanOrEqual(billed);
  });

  it('the old estimate (chars/4, flat 6,000 characters a document) was below the bill: the bound is needed', () => {
    const under = cases
      .filter(([, r]) => estimateInputTokens(r) < estimateSimTokens(r as never))
      .map(([n]) => n);
    expect(under).toEqual(
      expect.arrayContaining(['dense punctuation', 'a PDF by its pages', 'a text document']),
    );
  });

  it('a document whose size cannot be read holds the whole context window; never more', () => {
    const compressed = Buffer.concat([
      Buffer.from('%PDF-1.5\n<< /Type /ObjStm >>\nstream\n'),
      deflateSync('x'),
    ]);
    expect(
      maxInputTokens(user([{ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }])),
    ).toBe(contextWindowTokens);
    expect(
      maxInputTokens(
        user([
          {
            type: 'document',
            source: { type: 'base64', media_type: 'application/pdf', data: compressed.toString('base64') },
          },
        ]),
      ),
    ).toBe(contextWindowTokens);
    expect(maxInputTokens(user('x'.repeat(5_000_000)))).toBe(contextWindowTokens);
  });
});
