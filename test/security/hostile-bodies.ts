/**
 * A seeded generator of hostile request bodies for `POST /v1/jobs` and `/v1/jobs/batch`. Every body
 * it makes is invalid by construction (each case breaks at least one rule of the job schema), sent
 * as raw text so prototype-pollution keys and broken JSON reach the server unchanged.
 */
import { seededRng } from '../../packages/anthropic-simulator/src/seeded-rng.js';

/** Seeded, so a failing case can be reproduced. */
export const rng = seededRng;

export interface HostileCase {
  kind: string;
  /** Raw request body text. */
  text: string;
}

const valid = { model: 'claude-haiku-4-5', max_tokens: 50, prompt: 'hi' };

const weirdStrings = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '🙂'.repeat(50),
  'ﷺ'.repeat(20),
  'a\u202eb',
  '<script>alert(1)</script>',
  // A template-injection probe, built so it is not a template here.
  '$' + '{process.exit(1)}',
  "'; DROP TABLE jobs; --",
  '../../etc/passwd',
];

export function hostileJobs(count: number, seed: number, maxTokensCap: number): HostileCase[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const wrongValues: unknown[] = [
    null,
    true,
    0,
    -1,
    1.5,
    Number.MAX_SAFE_INTEGER,
    '',
    '12',
    [],
    {},
    [1, 2],
    { a: 1 },
    ...weirdStrings,
  ];
  const nest = (depth: number): unknown => (depth === 0 ? 'x' : { n: nest(depth - 1) });
  const nestArr = (depth: number): unknown => (depth === 0 ? 'x' : [nestArr(depth - 1)]);
  const makers: Array<[string, () => string]> = [
    ['not an object', () => JSON.stringify(pick([null, 1, 'x', [], [valid], true, 3.14]))],
    ['broken JSON', () => JSON.stringify(valid).slice(0, 1 + Math.floor(r() * 40))],
    ['garbage text', () => pick(['{', '}', '{"a":}', 'undefined', 'NaN', '{"model":"x",}', '\u0000\u0001'])],
    ['wrong model', () => JSON.stringify({ ...valid, model: pick([null, 1, '', [], {}, 'x'.repeat(300)]) })],
    [
      'wrong max_tokens',
      () =>
        JSON.stringify({
          ...valid,
          max_tokens: pick([0, -5, 1.5, '50', null, [], maxTokensCap + 1, 1e308, Number.MAX_SAFE_INTEGER]),
        }),
    ],
    ['wrong prompt', () => JSON.stringify({ ...valid, prompt: pick([null, 1, '', [], {}, ['hi']]) })],
    ['prompt and messages', () => JSON.stringify({ ...valid, messages: [{ role: 'user', content: 'x' }] })],
    [
      'wrong messages',
      () => {
        const { prompt: _p, ...rest } = valid;
        return JSON.stringify({
          ...rest,
          messages: pick<unknown>([
            [],
            'hi',
            [{ role: 'system', content: 'x' }],
            [{ role: 'assistant', content: 'x' }],
            [{ role: 'user', content: '' }],
            [{ role: 'user', content: [] }],
            [{ role: 'user', content: [{ text: 'no type' }] }],
            [{ role: 'user', content: 'x', extra: 1 }],
            [null],
            [{ role: 'user', content: 'x' }, 5],
          ]),
        });
      },
    ],
    [
      'too many messages',
      () => {
        const { prompt: _p, ...rest } = valid;
        const n = 1001 + Math.floor(r() * 50);
        return JSON.stringify({
          ...rest,
          messages: Array.from({ length: n }, () => ({ role: 'user', content: 'x' })),
        });
      },
    ],
    [
      'wrong optional field',
      () =>
        JSON.stringify({
          ...valid,
          // Values wrong for every optional field (0 or "" would be valid for some).
          [pick([
            'temperature',
            'top_p',
            'stop_sequences',
            'metadata',
            'tenant_id',
            'id',
            'priority',
            'system',
          ])]: pick<unknown>([null, true, -1, [[]], { a: {} }]),
        }),
    ],
    [
      'unknown field',
      () => JSON.stringify({ ...valid, [pick(weirdStrings.filter(Boolean))]: pick(wrongValues) }),
    ],
    [
      'prototype pollution',
      () => {
        const key = pick(['__proto__', 'constructor', 'prototype']);
        const where = pick(['top', 'metadata', 'content', 'system']);
        const payload = `{"${key}":{"polluted":"yes"}}`;
        if (where === 'top')
          return `{"model":"claude-haiku-4-5","max_tokens":5,"prompt":"x","${key}":{"polluted":"yes"}}`;
        if (where === 'metadata')
          return `{"model":"claude-haiku-4-5","max_tokens":5,"prompt":"x","metadata":${payload}}`;
        if (where === 'system')
          return `{"model":"claude-haiku-4-5","max_tokens":5,"prompt":"x","system":[{"type":"text","text":"x","${key}":{"polluted":"yes"}}]}`;
        return `{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"x","${key}":{"polluted":"yes"}}]}]}`;
      },
    ],
    [
      'deep nesting',
      () =>
        JSON.stringify({
          ...valid,
          prompt: undefined,
          messages: [
            {
              role: 'user',
              content: [{ type: 'text', deep: r() < 0.5 ? nest(40 + Math.floor(r() * 200)) : nestArr(60) }],
            },
          ],
        }),
    ],
    ['very deep JSON', () => `${'['.repeat(5000)}${']'.repeat(5000)}`],
    [
      'unicode id',
      () => JSON.stringify({ ...valid, id: pick(['ид', 'a b', 'x'.repeat(129), '../x', 'a\u0000', '🙂']) }),
    ],
  ];
  return Array.from({ length: count }, () => {
    const [kind, make] = pick(makers);
    return { kind, text: make() };
  });
}

/** Batches that must be refused whole: one bad job among good ones, wrong shapes, too many jobs. */
export function hostileBatches(count: number, seed: number, maxTokensCap: number): HostileCase[] {
  const r = rng(seed);
  const bad = hostileJobs(count, seed + 1, maxTokensCap).filter(
    (c) => c.kind !== 'broken JSON' && c.kind !== 'garbage text' && c.kind !== 'very deep JSON',
  );
  return Array.from({ length: count }, (_, i) => {
    const u = r();
    if (u < 0.1) return { kind: 'batch: too many', text: JSON.stringify({ jobs: Array(1001).fill(valid) }) };
    if (u < 0.2) {
      const v = [null, [], {}, 'x', { jobs: [] }, { jobs: {} }, { jobs: [valid], extra: 1 }, [valid]][i % 8];
      return { kind: 'batch: wrong shape', text: JSON.stringify(v) };
    }
    if (u < 0.25)
      return {
        kind: 'batch: duplicate ids',
        text: JSON.stringify({
          jobs: [
            { ...valid, id: 'd' },
            { ...valid, id: 'd' },
          ],
        }),
      };
    const one = bad[i % bad.length]!;
    const pos = Math.floor(r() * 5);
    const goods = Array.from({ length: 4 }, () => JSON.stringify(valid));
    goods.splice(pos, 0, one.text);
    return { kind: `batch: ${one.kind}`, text: `{"jobs":[${goods.join(',')}]}` };
  });
}
