/**
 * Model names, tenant ids, error types and ranges are user strings; none may be used as a plain
 * object's key. Every name Object.prototype owns (`__proto__`, `constructor`, `toString`, …) goes
 * through a running service as a tenant, as a model and as an API error's type, then the dashboard,
 * /metrics and `promptq report` must still answer, every name in them, every tenant's spend there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dict, entry } from '../../src/core/dict.js';
import { spawnCli } from '../helpers/cli.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';
import { redisEnv } from '../helpers/topology.js';

const protoNames = Object.getOwnPropertyNames(Object.prototype);

describe('Object.prototype names as user strings', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s?.close());

  it('control: a plain object loses "__proto__" where a dict keeps it', () => {
    const plain: Record<string, number> = {};
    const key: string = protoNames.find((n) => n.startsWith('__pro')) ?? '';
    plain[key] = 1;
    expect(Object.keys(plain)).toEqual([]);
    const d = dict<number>();
    entry(d, '__proto__', () => 1);
    entry(d, 'constructor', () => 2);
    expect(Object.keys(d)).toEqual(['__proto__', 'constructor']);
    expect(JSON.parse(JSON.stringify(d))).toEqual(JSON.parse('{"__proto__":1,"constructor":2}'));
  });

  it('as tenants, models and error types: dashboard, /metrics, `promptq report` and every tenant spend hold', async () => {
    expect(protoNames).toContain('__proto__');
    const ids: string[] = [];
    for (const name of protoNames) {
      const asTenant = await post(`${s.url}/v1/jobs`, {
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        prompt: 'hi',
        tenant_id: name,
      });
      expect(asTenant.status, name).toBe(202);
      const asModel = await post(`${s.url}/v1/jobs`, { model: name, max_tokens: 16, prompt: 'hi' });
      expect(asModel.status, name).toBe(202);
      ids.push(String(asTenant.body.id), String(asModel.body.id));
    }
    for (const id of ids) {
      const r = await get(`${s.url}/v1/jobs/${id}?wait=30`);
      expect(['completed', 'failed']).toContain(r.body.state);
    }
    // As error types: the API answers a 400 of that type (not retried), one job each.
    s.sim.script(protoNames.map((type) => ({ status: 400 as const, type })));
    for (const name of protoNames) {
      const r = await post(`${s.url}/v1/jobs`, { model: 'claude-haiku-4-5', max_tokens: 16, prompt: name });
      const done = await get(`${s.url}/v1/jobs/${r.body.id}?wait=30`);
      expect(done.body.state, name).toBe('failed');
      expect(done.body.error.type, name).toBe(name);
      ids.push(String(r.body.id));
    }
    // Rollups are written after the job's state: wait until every job is in them.
    let data: Record<string, any> = {};
    for (let i = 0; i < 100; i++) {
      const d = await get(`${s.url}/dashboard/data?range=1h`);
      expect(d.status).toBe(200);
      data = d.body;
      if (data.totals.jobs >= ids.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(data.totals.jobs).toBe(ids.length);
    for (const name of protoNames) {
      expect(Object.hasOwn(data.tenants, name), `tenant ${name}`).toBe(true);
      expect(data.tenants[name].cost_usd, `tenant ${name}`).toBeGreaterThan(0);
      expect(Object.hasOwn(data.models, name), `model ${name}`).toBe(true);
      expect(data.models[name].failed, `model ${name}`).toBe(1);
      expect(Object.hasOwn(data.errors, name), `error type ${name}`).toBe(true);
      expect(data.errors[name], `error type ${name}`).toBe(1);
    }
    // Cost in range is the sum of every tenant's spend, the odd names included.
    const sum = Object.values<any>(data.tenants).reduce((a, t) => a + t.cost_usd, 0);
    expect(data.totals.cost_usd).toBeCloseTo(sum, 9);
    // Nothing leaked onto Object.prototype, and /metrics still renders.
    expect(({} as Record<string, unknown>).jobs).toBeUndefined();
    const m = await fetch(`${s.url}/metrics`);
    expect(m.status).toBe(200);
    expect(await m.text()).toContain('tenant="__proto__"');

    // `promptq report`, a real CLI process on the same rollups: the same figures, every name a row.
    const env = { ...redisEnv(), PROMPTQ_QUEUE: s.config.queue };
    const json = spawnCli(['report', '--since', '1h', '--json'], env);
    const text = spawnCli(['report', '--since', '1h'], env);
    expect(await json.exited, json.stderr()).toBe(0);
    expect(await text.exited, text.stderr()).toBe(0);
    const reported = JSON.parse(json.stdout()) as typeof data;
    expect(reported.totals.jobs).toBe(ids.length);
    expect(reported.totals.cost_usd).toBeCloseTo(data.totals.cost_usd, 9);
    const rows = text.stdout().split('\n');
    for (const name of protoNames) {
      expect(reported.tenants[name]?.cost_usd, `report tenant ${name}`).toBe(data.tenants[name].cost_usd);
      expect(reported.models[name]?.failed, `report model ${name}`).toBe(1);
      expect(Object.hasOwn(reported.errors, name) && reported.errors[name], `report error ${name}`).toBe(1);
      // A row starting with the name in the text tables: tenant (its spend, and its spend and
      // projection per tenant), model and error type.
      expect(rows.filter((l) => l.startsWith(`${name} `)).length, `report rows ${name}`).toBe(4);
    }
  }, 120_000);

  it('a range named like an Object.prototype member is a 400, not a 500', async () => {
    for (const name of protoNames) {
      const r = await get(`${s.url}/dashboard/data?range=${encodeURIComponent(name)}`);
      expect(r.status, name).toBe(400);
      expect(r.body.error.type).toBe('invalid_request');
    }
  });
});
