/**
 * `promptq start` (spawned, as a user runs it) with an accounts file of all four providers, each
 * pointed at its own simulator: jobs naming each account are served by it (the simulator's own
 * counters say so), records, log lines and metrics name the provider and account, and a model a
 * provider does not map fails at once with a clear error. Then the credentials of all four are in no
 * Redis key or value, log line, metric, job view or error body; the control plants them in a job and
 * shows the same scan finds them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { dumpRedis } from '../helpers/redis-dump.js';
import { get, post, uniqueQueue } from '../helpers/stack.js';

// Made at run time, so no credential-like string sits in the repository.
const anthropicKey = `sk-ant-api03-${randomBytes(24).toString('base64url')}-fourA`;
const gatewayKey = `gw-${randomBytes(24).toString('hex')}`;
const awsKeyId = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
const awsSecret = `${randomBytes(30).toString('base64url')}awsSECRET`;
const vertexToken = `ya29.${randomBytes(30).toString('base64url')}`;
const secrets = { anthropicKey, gatewayKey, awsKeyId, awsSecret, vertexToken };

describe('promptq start with anthropic, bedrock, vertex and gateway accounts', () => {
  const sims: Record<string, Simulator> = {};
  let proc: CliProcess | undefined;
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  afterEach(async () => {
    if (proc && proc.proc.exitCode === null) {
      proc.proc.kill('SIGTERM');
      await proc.exited;
    }
    for (const s of Object.values(sims)) await s.close();
  });

  async function surfaces(url: string, queue: string, ids: string[]): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    for (const [k, v] of await dumpRedis(redis)) if (k.includes(queue)) out.push([`redis ${k}`, `${k} ${v}`]);
    out.push(['stderr', proc!.stderr()], ['stdout', proc!.stdout()]);
    out.push(['/metrics', (await get(`${url}/metrics`)).body.text as string]);
    for (const id of ids)
      out.push([`GET /v1/jobs/${id}`, JSON.stringify((await get(`${url}/v1/jobs/${id}`)).body)]);
    return out;
  }
  const hits = (where: Array<[string, string]>, needle: string) =>
    where.filter(([, text]) => text.includes(needle)).map(([w]) => w);

  it('runs a job through each, names the account everywhere, and leaks no credential', async () => {
    sims.direct = await startSimulator({ apiKey: anthropicKey, seed: 1 });
    sims.aws = await startSimulator({ apiKey: awsKeyId, seed: 2 });
    sims.gcp = await startSimulator({ apiKey: vertexToken, seed: 3 });
    sims.proxy = await startSimulator({ apiKey: gatewayKey, seed: 4, rateLimitHeaders: false });
    // The gateway fails its second call: an error body and a failed job are scanned too.
    sims.proxy.script([{ ok: true }, { status: 500 }]);
    const dir = mkdtempSync(join(tmpdir(), 'promptq-four-'));
    const file = join(dir, 'accounts.yaml');
    writeFileSync(
      file,
      `accounts:
  - name: direct
    provider: anthropic
    api_key_env: PQ_ANTHROPIC_KEY
    base_url: ${sims.direct.url}
  - name: aws
    provider: bedrock
    region: us-east-1
    base_url: ${sims.aws.url}
  - name: gcp
    provider: vertex
    project: promptq-sim
    region: us-east5
    base_url: ${sims.gcp.url}/v1
    access_token_env: PQ_VERTEX_TOKEN
  - name: proxy
    provider: gateway
    base_url: ${sims.proxy.url}
    api_key_env: PQ_GATEWAY_KEY
`,
    );
    const queue = uniqueQueue();
    proc = spawnCli(['start'], {
      REDIS_URL: inject('redisUrl'),
      PROMPTQ_QUEUE: queue,
      PORT: '0',
      PROMPTQ_LOG_LEVEL: 'debug',
      PROMPTQ_MAX_ATTEMPTS: '1',
      PROMPTQ_ACCOUNTS: file,
      PQ_ANTHROPIC_KEY: anthropicKey,
      PQ_GATEWAY_KEY: gatewayKey,
      PQ_VERTEX_TOKEN: vertexToken,
      AWS_ACCESS_KEY_ID: awsKeyId,
      AWS_SECRET_ACCESS_KEY: awsSecret,
    });
    const url = (await proc.waitForLog((l) => l.msg === 'promptq running', 30_000)).url as string;
    const names = ['direct', 'aws', 'gcp', 'proxy'];
    const ids: string[] = [];
    const views: Record<string, any> = {};
    for (const name of [...names, 'proxy']) {
      const r = await post(`${url}/v1/jobs`, {
        model: 'claude-sonnet-4-5',
        max_tokens: 32,
        prompt: `hello ${name}`,
        account: name,
      });
      expect(r.status).toBe(202);
      ids.push(String(r.body.id));
      views[`${name}#${ids.length}`] = (await get(`${url}/v1/jobs/${r.body.id}?wait=20`)).body;
    }
    const provider = { direct: 'anthropic', aws: 'bedrock', gcp: 'vertex', proxy: 'gateway' } as const;
    for (const [i, name] of names.entries()) {
      const v = views[`${name}#${i + 1}`];
      expect(v.state, name).toBe('completed');
      expect(v.record).toMatchObject({ provider: provider[name as keyof typeof provider], account: name });
      // The simulator of that account served it (its own counter), and only that one.
      expect(sims[name]!.stats().succeeded, name).toBe(1);
    }
    expect(views['proxy#5'].state).toBe('failed');
    // Vertex in a region (not global) prices Sonnet 4.5 at 1.1 × the API's $3/$15 per million,
    // priced here from what its simulator served; the Anthropic account at the API's price.
    const priced = (sim: Simulator, factor: number) =>
      ((sim.stats().inputTokens * 3 + sim.stats().outputTokens * 15) / 1e6) * factor;
    expect(views['gcp#3'].record.cost_usd).toBeCloseTo(priced(sims.gcp, 1.1), 12);
    expect(views['direct#1'].record.cost_usd).toBeCloseTo(priced(sims.direct, 1), 12);

    // A model Bedrock does not map: a clear error at once, no call made.
    const unmapped = await post(`${url}/v1/jobs`, {
      model: 'claude-2.1',
      max_tokens: 16,
      prompt: 'x',
      account: 'aws',
    });
    ids.push(String(unmapped.body.id));
    const failed = (await get(`${url}/v1/jobs/${unmapped.body.id}?wait=20`)).body;
    expect(failed.state).toBe('failed');
    expect(failed.record.error_type).toBe('unserved_model');
    expect(JSON.stringify(failed.error)).toContain('claude-2.1');
    expect(sims.aws.stats().requests).toBe(1);

    const metrics = (await get(`${url}/metrics`)).body.text as string;
    for (const name of names) {
      expect(metrics).toMatch(
        new RegExp(
          `promptq_account_requests_total\\{provider="${provider[name as keyof typeof provider]}",account="${name}",outcome="success"\\} 1`,
        ),
      );
    }
    const attemptLines = proc.logs().filter((l) => l.msg === 'api_attempt');
    expect(new Set(attemptLines.map((l) => `${l.provider}/${l.account}`))).toEqual(
      // (`none`: the call of the unmapped model, which no account serves.)
      new Set(['anthropic/direct', 'bedrock/aws', 'vertex/gcp', 'gateway/proxy', 'none/none']),
    );

    const where = await surfaces(url, queue, ids);
    expect(where.length).toBeGreaterThan(8);
    for (const [label, s] of Object.entries(secrets)) expect(hits(where, s), label).toEqual([]);

    // Control: the same strings, planted in a job's prompt, are found where the scan looks.
    const planted = await post(`${url}/v1/jobs`, {
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      prompt: Object.values(secrets).join(' '),
      account: 'direct',
    });
    await get(`${url}/v1/jobs/${planted.body.id}?wait=20`);
    const again = await surfaces(url, queue, [...ids, String(planted.body.id)]);
    for (const [label, s] of Object.entries(secrets)) {
      const found = hits(again, s);
      expect(
        found.some((w) => w.startsWith('redis ')),
        label,
      ).toBe(true);
      expect(found, label).toContain(`GET /v1/jobs/${planted.body.id}`);
    }
  }, 90_000);
});
