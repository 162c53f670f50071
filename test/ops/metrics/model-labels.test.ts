/**
 * Model label slots (ops/metrics/model-labels.ts), through the whole service against the simulator:
 * made-up names take the capped slots up to the cap and no further (`other` past it), and a real
 * model arriving after them keeps its own label, as does a dated snapshot of one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from '../../helpers/stack.js';

/** Whether /metrics counts an API attempt under this model label. */
const labelOf = (text: string, model: string) => text.includes(`promptq_requests_total{model="${model}",`);
const metricsText = async (url: string) => (await get(`${url}/metrics`)).body.text as string;

describe('metric model labels: known models keep theirs, made-up names share the capped slots', () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  async function run(model: string): Promise<void> {
    const r = await post(`${s!.url}/v1/jobs`, { model, max_tokens: 5, prompt: 'hi' });
    expect(r.status).toBe(202);
    // The simulator answers a model it does not know with a 404: an attempt all the same.
    const done = await get(`${s!.url}/v1/jobs/${r.body.id}?wait=30`);
    expect(['completed', 'failed']).toContain(done.body.state);
  }

  it('PROMPTQ_MAX_MODEL_LABELS=2: two made-up names keep theirs, the third is other; claude-haiku-4-5 keeps its own after them', async () => {
    s = await startStack({ env: { PROMPTQ_MAX_MODEL_LABELS: '2' } });
    await run('made-up-a');
    await run('made-up-b');
    let text = await metricsText(s.url);
    // The cap itself: both made-up names named.
    expect(labelOf(text, 'made-up-a') && labelOf(text, 'made-up-b')).toBe(true);
    expect(labelOf(text, 'other')).toBe(false);
    // One past it: `other`.
    await run('made-up-c');
    text = await metricsText(s.url);
    expect(labelOf(text, 'made-up-c')).toBe(false);
    expect(labelOf(text, 'other')).toBe(true);
    // Real models, after the slots are full: their own labels.
    await run('claude-haiku-4-5');
    await run('claude-haiku-4-5-20251001');
    text = await metricsText(s.url);
    expect(labelOf(text, 'claude-haiku-4-5')).toBe(true);
    expect(labelOf(text, 'claude-haiku-4-5-20251001')).toBe(true);
  });
});
