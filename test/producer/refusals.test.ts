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
import { addressPolicy } from '../../src/events/webhooks/address-guard.js';
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

describe('webhook receivers: one lookup per host, however many lines name it', () => {
  // The resolver stands in for DNS (the guard's seam): a public host and a private one, counted.
  const lookups = new Map<string, number>();
  const addresses: Record<string, string> = {
    'hooks.example.test': '93.184.215.14',
    'inner.example.test': '10.0.0.5',
  };
  const resolve = async (host: string) => {
    lookups.set(host, (lookups.get(host) ?? 0) + 1);
    const address = addresses[host];
    if (address === undefined) throw new Error(`ENOTFOUND ${host}`);
    return [{ address, family: 4 }];
  };
  const redis = testRedis();
  const q = new PromptQueue({
    connection: redis,
    queue: uniqueQueue(),
    ...testSettings(),
    webhookTargets: addressPolicy({ allowPrivate: false, allowHosts: undefined }, resolve),
  });
  const dir = mkdtempSync(join(tmpdir(), 'pq-refusals-hosts-'));
  afterAll(async () => {
    await q.queue.obliterate({ force: true });
    await q.close();
    redis.disconnect();
  });

  it('300 lines to one receiver and 2 to a private one: each host resolved once, both private lines named', async () => {
    const hook = (host: string, i: number) => ({
      ...base,
      prompt: `p${i}`,
      webhook: { url: `https://${host}/h/${i}` },
    });
    const lines = [
      ...Array.from({ length: 300 }, (_, i) => hook('hooks.example.test', i)),
      hook('inner.example.test', 300),
      hook('INNER.example.test', 301),
    ];
    const path = join(dir, 'hooks.jsonl');
    writeFileSync(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const lineDefaults = { tenant: undefined, priority: 500, idPrefix: 'h', limits: defaults.jobs.limits };
    const err = await enqueueFile(q, path, lineDefaults).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).problems.map((p) => p.field)).toEqual([
      'line.301.webhook.url',
      'line.302.webhook.url',
    ]);
    expect(Object.fromEntries(lookups)).toEqual({ 'hooks.example.test': 1, 'inner.example.test': 1 });
    expect(await q.queue.count()).toBe(0);
  });
});
