/**
 * `promptq report` prints names users chose (models, tenants, error types, job ids). A name with a
 * terminal escape or a newline must print as visible text, not clear the screen or fake a row. The
 * names are written straight into the rollups (as a job from another client, or from before names
 * were checked at enqueue, would leave them); the control shows they really are in the data.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { defaults } from '../../../src/core/defaults.js';
import { printable, textTable } from '../../../src/core/format.js';
import { newRecord } from '../../../src/core/record.js';
import { formatReport } from '../../../src/ops/dashboard/report.js';
import { readDashboard } from '../../../src/ops/dashboard/summary.js';
import { RollupWriter } from '../../../src/ops/metrics/rollups.js';
import { Keyspace } from '../../../src/store/keys.js';
import { uniqueQueue } from '../../helpers/stack.js';

const tenant = '\u001b[2J\u001b[1;1Hpwned\u0007';
const model = 'evil\nFAKE ROW  1  2  3';
const errorType = 'x\r\u202eyzal';
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them is the point.
const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('promptq report escapes what it prints', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  it('terminal escapes, newlines and bidi overrides in names print as \\uXXXX', async () => {
    const queue = uniqueQueue();
    const w = new RollupWriter({
      connection: redis,
      keys: new Keyspace({ queue }),
      retention: defaults.rollups,
      tenantLabel: (t) => t ?? 'none',
      modelLabel: (m) => m,
    });
    const now = Date.now();
    const base = newRecord({ model, max_tokens: 100, messages: [], tenant_id: tenant }, now - 500);
    const done = { ...base, finished_at: new Date(now).toISOString(), total_ms: 500, latency_ms: 400 };
    await w.record('ok\u001b[31m', 'completed', { ...done, output_tokens: 10, cost_usd: 0.001, attempts: 1 });
    await w.record('bad', 'failed', { ...done, latency_ms: null, error_type: errorType, attempts: 1 });
    const d = await readDashboard(redis, new Keyspace({ queue }), 60, now);
    // Control: the hostile names are in the data as they are.
    expect(Object.keys(d.tenants)).toContain(tenant);
    expect(Object.keys(d.models)).toContain(model);
    expect(Object.keys(d.errors)).toContain(errorType);

    const text = formatReport(d, queue, '1h');
    // Nothing a terminal would act on, only newlines between lines.
    expect(text).not.toMatch(raw);
    expect(text).toContain(printable(tenant));
    expect(text).toContain('evil\\u000aFAKE ROW');
    expect(text).toContain('x\\u000d\\u202eyzal');
    expect(text.split('\n').some((l) => l.startsWith('FAKE ROW'))).toBe(false);
  });

  it('textTable escapes every cell, the head too, and keeps the columns aligned', () => {
    const t = textTable(['na\u001bme', 'n'], [['a\nb', 1]]);
    expect(t).toBe(['na\\u001bme  n', '----------  -', 'a\\u000ab    1'].join('\n'));
  });
});
