/**
 * A failed attempt is counted under the model it called, as the API served it: a job on a retired
 * model with two fallbacks (`claude-2.1` → `claude-2.0`, also retired → Haiku) makes one 404 from
 * each retired model, then Haiku answers. `promptq_requests_total` must say what the simulator
 * served, model by model: not the job's first model for the second 404, nor the model the fallback
 * moved on to.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from '../../helpers/stack.js';

const n = 4;

/** `promptq_requests_total` by model and status code, from the exposition text. */
function requestsByModel(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(
    /^promptq_requests_total\{model="([^"]+)",status_code="([^"]+)",[^}]*\} (\d+)/gm,
  ))
    out.set(`${m[1]} ${m[2]}`, (out.get(`${m[1]} ${m[2]}`) ?? 0) + Number(m[3]));
  return out;
}

describe('the failed-attempt metric label is the model the attempt called', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { seed: 3 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('each 404 under its retired model, the answer under Haiku: as the simulator served them', async () => {
    const jobs = Array.from({ length: n }, (_, i) => ({
      model: 'claude-2.1',
      fallback_models: ['claude-2.0', 'claude-haiku-4-5'],
      max_tokens: 16,
      prompt: `fallback twice ${i}`,
    }));
    const r = await post(`${s.url}/v1/jobs/batch`, { jobs });
    expect(r.status).toBe(202);
    for (const id of r.body.ids as string[]) {
      const v = (await get(`${s.url}/v1/jobs/${id}?wait=60`)).body;
      expect(v.record).toMatchObject({
        served_model: 'claude-haiku-4-5',
        fallback_reason: 'not_found',
        attempts: 3,
      });
    }
    const served = s.sim.stats().groups;
    const byModel = requestsByModel((await get(`${s.url}/metrics`)).body.text as string);
    // What the simulator served, model by model, is what the metric says.
    expect(served['claude-2.1']?.byStatus['404']).toBe(n);
    expect(served['claude-2.0']?.byStatus['404']).toBe(n);
    expect(byModel.get('claude-2.1 404')).toBe(served['claude-2.1']?.byStatus['404']);
    expect(byModel.get('claude-2.0 404')).toBe(served['claude-2.0']?.byStatus['404']);
    expect(byModel.get('claude-haiku-4-5 200')).toBe(served.haiku?.succeeded);
    expect(byModel.get('claude-haiku-4-5 404')).toBeUndefined();
  }, 60_000);
});
