import { describe, expect, it } from 'vitest';
import { estimateSimTokens } from '../../packages/anthropic-simulator/src/index.js';
import { generatePieces, planOutput } from '../../packages/anthropic-simulator/src/output.js';
import { PromptCache } from '../../packages/anthropic-simulator/src/prompt-cache.js';
import { seededRng } from '../../packages/anthropic-simulator/src/rng.js';
import {
  blockTokens,
  imageSize,
  promptSegments,
  textTokens,
} from '../../packages/anthropic-simulator/src/tokenizer.js';
import { validateMessagesRequest } from '../../packages/anthropic-simulator/src/validate-request.js';

const WORDS = ['alpha', 'beta', 'gamma', 'delta'];
const LONG = Array.from({ length: 1200 }, (_, i) => WORDS[i % 4]).join(' '); // 1,200 tokens

describe('estimateSimTokens', () => {
  it('counts words and punctuation runs, not characters / 4', () => {
    expect(estimateSimTokens('hello')).toBe(1);
    expect(estimateSimTokens('simulator')).toBe(2); // ceil(9 / 5)
    expect(estimateSimTokens('Hello, world!')).toBe(4); // 2 words + 2 punctuation runs
    expect(estimateSimTokens('   ')).toBe(0);
    const text = 'The quick brown fox jumps over the lazy dog.';
    expect(estimateSimTokens(text)).toBe(10); // 9 short words + the full stop
    expect(estimateSimTokens(text)).not.toBe(Math.ceil(text.length / 4));
  });

  it('is deterministic and adds per-request, per-message and system overheads', () => {
    const req = {
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'Hi there' },
        { role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] },
      ],
    };
    // 4 request + (3 system + 3 text) + (3 + 2) + (3 + 2)
    expect(estimateSimTokens(req)).toBe(20);
    expect(estimateSimTokens(req)).toBe(estimateSimTokens(structuredClone(req)));
  });

  it('charges flat amounts for images', () => {
    const withImage = {
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'AAAA' } }] }],
    };
    expect(estimateSimTokens(withImage)).toBe(4 + 3 + 1_600);
  });
});

describe('generated output', () => {
  it('is one simulator token per piece, so usage agrees with the tokenizer', () => {
    const pieces = generatePieces(seededRng(7), 250);
    expect(pieces).toHaveLength(250);
    expect(textTokens(pieces.join(''))).toBe(250);
  });

  it('hits max_tokens about one time in ten and caps natural answers', () => {
    const rng = seededRng(42);
    const dist = { minFraction: 0.1, maxFraction: 1.1, cap: 400, stopSequenceRate: 0.5 };
    const plans = Array.from({ length: 500 }, () => planOutput(rng, 200, dist, []));
    const cut = plans.filter((p) => p.stopReason === 'max_tokens');
    expect(cut.length / plans.length).toBeGreaterThan(0.04);
    expect(cut.length / plans.length).toBeLessThan(0.2);
    for (const p of cut) expect(p.pieces).toHaveLength(200);
    const capped = Array.from({ length: 50 }, () => planOutput(rng, 4_000, dist, []));
    for (const p of capped) expect(p.pieces.length).toBeLessThanOrEqual(400);
  });

  it('same seed, same answers', () => {
    const dist = { minFraction: 0.1, maxFraction: 1.1, cap: 400, stopSequenceRate: 0.5 };
    const a = planOutput(seededRng(5), 300, dist, ['END']);
    const b = planOutput(seededRng(5), 300, dist, ['END']);
    expect(a).toEqual(b);
  });
});

describe('PromptCache', () => {
  const system = (ttl?: '1h') => [
    { type: 'text', text: LONG, cache_control: ttl ? { type: 'ephemeral', ttl } : { type: 'ephemeral' } },
  ];
  const input = (question: string, ttl?: '1h') => ({
    system: system(ttl),
    messages: [{ role: 'user', content: question }],
  });

  it('writes the prefix once, then reads it; input_tokens is the uncached rest', () => {
    const cache = new PromptCache();
    const segs = promptSegments(input('first question'));
    const total = segs.reduce((n, s) => n + s.tokens, 0);
    const prefix = 4 + 3 + 1_200;
    const first = cache.plan('claude-sonnet-4-6', segs, 1024, 0);
    expect(first.usage).toMatchObject({
      cacheCreationInputTokens: prefix,
      cacheReadInputTokens: 0,
      inputTokens: total - prefix,
      ephemeral5mInputTokens: prefix,
    });
    first.commit(0);
    const second = cache.plan('claude-sonnet-4-6', promptSegments(input('another one')), 1024, 60_000);
    expect(second.usage).toMatchObject({ cacheCreationInputTokens: 0, cacheReadInputTokens: prefix });
    expect(second.usage.inputTokens).toBe(estimateSimTokens(input('another one')) - prefix);
  });

  it('does not write until committed, and is per model', () => {
    const cache = new PromptCache();
    const segs = promptSegments(input('q'));
    cache.plan('claude-sonnet-4-6', segs, 1024, 0); // refused request: never committed
    expect(cache.plan('claude-sonnet-4-6', segs, 1024, 0).usage.cacheReadInputTokens).toBe(0);
    cache.plan('claude-sonnet-4-6', segs, 1024, 0).commit(0);
    expect(cache.plan('claude-opus-4-8', segs, 1024, 0).usage.cacheReadInputTokens).toBe(0);
  });

  it('expires after 5 minutes, refreshed by each read; 1h entries live longer', () => {
    const cache = new PromptCache();
    const segs = promptSegments(input('q'));
    cache.plan('m', segs, 1024, 0).commit(0);
    const read = cache.plan('m', segs, 1024, 4 * 60_000);
    expect(read.usage.cacheReadInputTokens).toBeGreaterThan(0);
    read.commit(4 * 60_000); // refreshes to 9 min
    expect(cache.plan('m', segs, 1024, 8 * 60_000).usage.cacheReadInputTokens).toBeGreaterThan(0);
    expect(cache.plan('m', segs, 1024, 9 * 60_000 + 1).usage.cacheReadInputTokens).toBe(0);

    const hourCache = new PromptCache();
    const hour = promptSegments(input('q', '1h'));
    const w = hourCache.plan('m', hour, 1024, 0);
    expect(w.usage.ephemeral1hInputTokens).toBe(w.usage.cacheCreationInputTokens);
    w.commit(0);
    expect(hourCache.plan('m', hour, 1024, 30 * 60_000).usage.cacheReadInputTokens).toBeGreaterThan(0);
  });

  it('a write is readable once its answer begins: a request sent before that writes again, at the boundary from both sides', () => {
    const cache = new PromptCache();
    const segs = promptSegments(input('q'));
    // Admitted at 0, its first token at 400.
    cache.plan('m', segs, 1024, 0).commit(0, 400);
    const early = cache.plan('m', segs, 1024, 399);
    expect(early.usage.cacheReadInputTokens).toBe(0);
    expect(early.usage.cacheCreationInputTokens).toBeGreaterThan(0);
    // The second write (first token at 799) does not delay the first one's.
    early.commit(399, 799);
    expect(cache.plan('m', segs, 1024, 400).usage.cacheReadInputTokens).toBeGreaterThan(0);
  });

  it('ignores breakpoints below the minimum cacheable length', () => {
    const cache = new PromptCache();
    const segs = promptSegments(input('q'));
    const plan = cache.plan('m', segs, 4096, 0);
    expect(plan.usage.cacheCreationInputTokens).toBe(0);
    expect(plan.usage.inputTokens).toBe(estimateSimTokens(input('q')));
  });

  it('finds the previous breakpoint when a conversation moves its breakpoint forward', () => {
    const cache = new PromptCache();
    const turn1 = {
      messages: [
        { role: 'user', content: [{ type: 'text', text: LONG, cache_control: { type: 'ephemeral' } }] },
      ],
    };
    cache.plan('m', promptSegments(turn1), 1024, 0).commit(0);
    const turn2 = {
      messages: [
        { role: 'user', content: [{ type: 'text', text: LONG }] },
        { role: 'assistant', content: 'Sure.' },
        {
          role: 'user',
          content: [{ type: 'text', text: 'And then?', cache_control: { type: 'ephemeral' } }],
        },
      ],
    };
    const plan = cache.plan('m', promptSegments(turn2), 1024, 1_000);
    expect(plan.usage.cacheReadInputTokens).toBe(estimateSimTokens(turn1));
    expect(plan.usage.cacheCreationInputTokens).toBe(estimateSimTokens(turn2) - estimateSimTokens(turn1));
    expect(plan.usage.inputTokens).toBe(0);
  });
});

describe('request validation', () => {
  const cap = () => 64_000;
  const valid = { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
  const errorOf = (body: unknown) => {
    const r = validateMessagesRequest(body, cap);
    return r.ok ? null : r.error;
  };

  it('accepts a valid request', () => {
    expect(validateMessagesRequest(valid, cap).ok).toBe(true);
  });

  it.each([
    [{ ...valid, model: undefined }, 400, 'model: Field required'],
    [{ ...valid, model: 7 }, 400, 'model: Input should be a valid string'],
    [{ ...valid, max_tokens: undefined }, 400, 'max_tokens: Field required'],
    [{ ...valid, max_tokens: 1.5 }, 400, 'max_tokens: Input should be a valid integer'],
    [{ ...valid, max_tokens: 0 }, 400, 'max_tokens: Input should be greater than or equal to 1'],
    [{ ...valid, max_tokens: 64_001 }, 400, 'max_tokens: 64001 > 64000'],
    [{ ...valid, messages: [] }, 400, 'messages: at least one message is required'],
    [{ ...valid, messages: 'hi' }, 400, 'messages: Input should be a valid list'],
    [{ ...valid, messages: [{ role: 'bot', content: 'x' }] }, 400, 'messages.0.role:'],
    [{ ...valid, messages: [{ role: 'assistant', content: 'x' }] }, 400, 'messages.0.role: first message'],
    [{ ...valid, messages: [{ role: 'user', content: 5 }] }, 400, 'messages.0.content:'],
    [
      { ...valid, messages: [{ role: 'user', content: [{ type: 'text' }] }] },
      400,
      'messages.0.content.0.text:',
    ],
    [{ ...valid, system: 5 }, 400, 'system:'],
    [{ ...valid, system: [{ type: 'image' }] }, 400, 'system.0.type:'],
    [{ ...valid, temperature: 1.5 }, 400, 'temperature: Input should be less than or equal to 1'],
    [{ ...valid, top_p: -1 }, 400, 'top_p:'],
    [{ ...valid, stop_sequences: ['a', 2] }, 400, 'stop_sequences.1:'],
    [{ ...valid, metadata: { user_id: 3 } }, 400, 'metadata.user_id:'],
    [{ ...valid, model: 'gpt-4o' }, 404, 'model: gpt-4o'],
  ])('rejects %j with %i naming the field', (body, status, message) => {
    const error = errorOf(body);
    expect(error?.status).toBe(status);
    expect(error?.message).toContain(message);
  });

  it('allows at most 4 cache breakpoints', () => {
    const block = { type: 'text', text: 'x', cache_control: { type: 'ephemeral' } };
    const body = { ...valid, messages: [{ role: 'user', content: [block, block, block, block, block] }] };
    expect(errorOf(body)?.message).toContain('A maximum of 4 blocks with cache_control');
  });
});

describe('image and document token counts', () => {
  const png = (w: number, h: number) => {
    const b = Buffer.alloc(24);
    b.writeUInt32BE(0x89504e47, 0);
    b.writeUInt32BE(0x0d0a1a0a, 4);
    b.writeUInt32BE(13, 8);
    b.write('IHDR', 12, 'latin1');
    b.writeUInt32BE(w, 16);
    b.writeUInt32BE(h, 20);
    return b.toString('base64');
  };
  const image = (data: string) => ({
    type: 'image',
    source: { type: 'base64', media_type: 'image/png', data },
  });

  it('an image costs about width × height / 750 tokens, scaled to the API limits', () => {
    expect(imageSize(png(200, 100))).toEqual({ width: 200, height: 100 });
    expect(blockTokens(image(png(200, 100)))).toBe(Math.ceil((200 * 100) / 750));
    expect(blockTokens(image(png(1000, 1000)))).toBe(1334);
    // Scaled down to 1.15 megapixels: about 1,534 tokens whatever the size.
    expect(blockTokens(image(png(4000, 4000)))).toBeLessThanOrEqual(1600);
    expect(blockTokens(image('not an image'))).toBe(1600);
  });

  it('a PDF costs per page', () => {
    const pdf = (pages: number) =>
      Buffer.from(`%PDF-1.4\n<< /Type /Pages >>\n${'<< /Type /Page >>\n'.repeat(pages)}%%EOF`).toString(
        'base64',
      );
    const doc = (data: string) => ({
      type: 'document',
      source: { type: 'base64', media_type: 'application/pdf', data },
    });
    expect(blockTokens(doc(pdf(1)))).toBe(1500);
    expect(blockTokens(doc(pdf(3)))).toBe(4500);
  });
});
