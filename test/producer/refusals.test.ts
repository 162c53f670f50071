/**
 * The backfill refuses what the HTTP/library path refuses: a job naming an account no accounts
 * file has, a webhook receiver the SSRF guard refuses, a deadline that has passed. `add` (what
 * `POST /v1/jobs` calls) and the backfill's enqueue pass (`addValidated`) go through one
 * judgement (producer/refusals.ts): each refused line is named by its line number and nothing of
 * its chunk is added; the same lines without the refused field are added (the control).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { ValidationError } from '../../src/core/job.js';
import { enqueueFile } from '../../src/producer/backfill/enqueue.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';

const base = { model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'hi' };
const refused = {
  account: { account: 'nope' },
  'webhook.url': { webhook: { url: 'http://169.254.169.254/hook' } },
  deadline: { deadline: new Date(Date.now() - 60_000).toISOString() },
} as const;

describe('one judgement for HTTP and backfill', () => {
  const redis = testRedis();
  const q = new PromptQueue({ connection: redis, queue: uniqueQueue(), ...testSettings() });
  const dir = mkdtempSync(join(tmpdir(), 'pq-refusals-'));
  const lineDefaults = { tenant: undefined, priority: 500, idPrefix: 'r', limits: defaults.jobs.limits };
  afterAll(async () => {
    await q.queue.obliterate({ force: true });
    await q.close();
    redis.disconnect();
  });
  const file = (name: string, lines: object[]) => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    return path;
  };
  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).problems.map((x) => x.field);
  };

  for (const [field, extra] of Object.entries(refused)) {
    it(`${field}: refused by add, and by the backfill at its line, which adds nothing`, async () => {
      expect(await refusal(q.add({ ...base, ...extra }))).toEqual([field]);
      const before = await q.queue.count();
      const path = file(`${field}.jsonl`, [base, { ...base, ...extra, prompt: 'second' }]);
      expect(await refusal(enqueueFile(q, path, lineDefaults))).toEqual([`line.2.${field}`]);
      expect(await q.queue.count()).toBe(before);
    });
  }

  it('the control: the same lines without the refused fields are added by both', async () => {
    const before = await q.queue.count();
    expect((await q.add({ ...base, prompt: 'control' })).created).toBe(true);
    const path = file('control.jsonl', [base, { ...base, prompt: 'second' }]);
    expect(await enqueueFile(q, path, lineDefaults)).toMatchObject({ added: 2 });
    expect(await q.queue.count()).toBe(before + 3);
  });
});
