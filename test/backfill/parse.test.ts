import { describe, expect, it } from 'vitest';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { backfillJobId } from '../../src/producer/backfill/ids.js';
import { type LineDefaults, parseLine } from '../../src/producer/backfill/parse.js';
import { Progress } from '../../src/producer/backfill/progress.js';

const d: LineDefaults = { tenant: undefined, priority: 500, idPrefix: '', limits: defaultJobLimits };

describe('backfill lines', () => {
  it('accepts a job body and a Message Batches request, with the same normalized request', () => {
    const body = parseLine('{"model":"claude-haiku-4-5","max_tokens":10,"prompt":"hi"}', 1, d);
    const batch = parseLine(
      '{"custom_id":"a-1","params":{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}}',
      2,
      d,
    );
    expect(body?.kind).toBe('job');
    expect(batch?.kind).toBe('job');
    if (body?.kind !== 'job' || batch?.kind !== 'job') return;
    expect(batch.request).toEqual(body.request);
    expect(batch.id).toBe('a-1');
    expect(batch.customId).toBe('a-1');
    expect(body.customId).toBeNull();
    expect(body.priority).toBe(500);
  });

  it('names the bad field, under params. for Batches lines', () => {
    const bad = parseLine(
      '{"custom_id":"x","params":{"model":"m","max_tokens":10,"prompt":"p","tools":[{"name":"t"}]}}',
      7,
      d,
    );
    expect(bad?.kind).toBe('invalid');
    expect(bad?.kind === 'invalid' && bad.problems.map((p) => p.field)).toContain(
      'params.tools.0.input_schema',
    );
    const notJson = parseLine('{"model":', 3, d);
    expect(notJson?.kind === 'invalid' && notJson.problems[0]?.field).toBe('line');
    expect(parseLine('{"params":{}}', 4, d)).toMatchObject({
      kind: 'invalid',
      problems: [{ field: 'custom_id' }],
    });
    expect(parseLine('   ', 5, d)).toBeNull();
  });

  it('accepts Batches lines with tools, forced tool choice, thinking and multi-turn tool results', () => {
    const params = [
      {
        model: 'claude-sonnet-4-5',
        max_tokens: 1024,
        tools: [
          { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
        ],
        tool_choice: { type: 'tool', name: 'get_weather' },
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
      },
      {
        model: 'claude-sonnet-4-5',
        max_tokens: 4096,
        thinking: { type: 'enabled', budget_tokens: 2048 },
        messages: [{ role: 'user', content: 'Think.' }],
      },
      {
        model: 'claude-sonnet-4-5',
        max_tokens: 512,
        tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
        messages: [
          { role: 'user', content: 'Weather?' },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }],
          },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
        ],
      },
    ];
    params.forEach((p, i) => {
      const r = parseLine(JSON.stringify({ custom_id: `r-${i}`, params: p }), i + 1, d);
      expect(r?.kind, JSON.stringify(r)).toBe('job');
      if (r?.kind === 'job') expect(r.request).toEqual(p);
    });
  });

  it('applies --tenant and --priority only where the line names none', () => {
    const dd = { ...d, tenant: 'acme', priority: 700 };
    const own = parseLine('{"model":"m","max_tokens":1,"prompt":"x","tenant_id":"zeta","priority":3}', 1, dd);
    const def = parseLine('{"model":"m","max_tokens":1,"prompt":"x"}', 2, dd);
    expect(own).toMatchObject({ request: { tenant_id: 'zeta' }, priority: 3 });
    expect(def).toMatchObject({
      request: { tenant_id: 'acme', metadata: { user_id: 'acme' } },
      priority: 700,
    });
  });

  it('derives ids deterministically: same line and number → same id; else different; bad custom ids hashed', () => {
    const a = backfillJobId('', 3, 'text', {});
    expect(backfillJobId('', 3, 'text', {})).toBe(a);
    expect(backfillJobId('', 4, 'text', {})).not.toBe(a);
    expect(backfillJobId('', 3, 'text2', {})).not.toBe(a);
    expect(backfillJobId('run2-', 3, 'text', {})).toBe(`run2-${a}`);
    // A prefix without its own separator gets one: `run2-bf-…`, not `run2bf-…`.
    expect(backfillJobId('run2', 3, 'text', {})).toBe(`run2-${a}`);
    expect(backfillJobId('run2_', 3, 'text', {})).toBe(`run2_${a}`);
    expect(backfillJobId('run2', 1, 'x', { customId: 'q1' })).toBe('run2-q1');
    expect(backfillJobId('', 1, 'x', { customId: 'ok_1' })).toBe('ok_1');
    const hashed = backfillJobId('', 1, 'x', { customId: 'has space/slash' });
    expect(hashed).toMatch(/^cid-[A-Za-z0-9_-]{32}$/);
    expect(backfillJobId('', 99, 'y', { customId: 'has space/slash' })).toBe(hashed);
  });

  it('progress lines show counts, rate, ETA, tokens and cost', () => {
    const line = Progress.line(
      { phase: 'wait', done: 50, total: 100, failed: 2, inputTokens: 1234, outputTokens: 99, costUsd: 0.5 },
      10_000,
    );
    expect(line).toBe('wait 50/100 (50%)  2 failed  5.0/s  ETA 10s  tokens 1,234 in 99 out  $0.5000');
    const chunks: string[] = [];
    const p = new Progress({ stream: { write: (c: string) => chunks.push(c) } as never, tty: true });
    p.update({ phase: 'enqueue', done: 1, total: 4 });
    p.done({ phase: 'enqueue', done: 4, total: 4 });
    expect(chunks.join('')).toContain('[######------------------] enqueue 1/4');
    expect(chunks.join('')).toMatch(/\[#{24}\] enqueue 4\/4 \(100%\).*\n$/);
  });
});
