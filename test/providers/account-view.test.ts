/**
 * The dashboard (`/dashboard/data`) and `promptq report` show which account of which provider
 * served the calls, from the rollups workers keep in Redis: an Anthropic account and a Bedrock one,
 * each its own simulator. Attempts per account equal what each simulator was asked (its own
 * counters), including a failed one; the cost per account is what each simulator served, priced
 * here from the price list's figures (Bedrock's regional endpoint at 1.1 ×).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import type { DashboardData } from '../../src/ops/dashboard/summary.js';
import { spawnCli } from '../helpers/cli.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';
import { redisEnv } from '../helpers/topology.js';

const token = 'acct-view-token-0123456789';
const auth = { authorization: `Bearer ${token}` };

describe('dashboard and report: which account served the calls', () => {
  const saved = { ...process.env };
  const sims: Record<string, Simulator> = {};
  let s: Stack | undefined;
  afterAll(async () => {
    await s?.close();
    for (const sim of Object.values(sims)) await sim.close();
    process.env = saved;
  });

  it('per provider/account: attempts, failed attempts, completed jobs and cost', async () => {
    const key = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
    const awsKeyId = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
    sims.east = await startSimulator({ apiKey: key, seed: 11 });
    sims.aws = await startSimulator({ apiKey: awsKeyId, seed: 12 });
    // The Bedrock account's third call fails (500): a failed attempt, a failed job.
    sims.aws.script([{ ok: true }, { ok: true }, { status: 500 }]);
    Object.assign(process.env, {
      PQ_VIEW_KEY: key,
      AWS_ACCESS_KEY_ID: awsKeyId,
      AWS_SECRET_ACCESS_KEY: randomBytes(30).toString('base64url'),
    });
    const file = join(mkdtempSync(join(tmpdir(), 'promptq-view-')), 'accounts.json');
    writeFileSync(
      file,
      JSON.stringify({
        accounts: [
          { name: 'east', provider: 'anthropic', api_key_env: 'PQ_VIEW_KEY', base_url: sims.east.url },
          { name: 'aws', provider: 'bedrock', region: 'us-east-1', base_url: sims.aws.url },
        ],
      }),
    );
    s = await startStack({
      env: { PROMPTQ_ACCOUNTS: file, PROMPTQ_MAX_ATTEMPTS: '1', PROMPTQ_AUTH_TOKEN: token },
    });
    const pins = ['east', 'east', 'east', 'east', 'aws', 'aws', 'aws'];
    for (const [i, account] of pins.entries()) {
      const r = await post(
        `${s.url}/v1/jobs`,
        { model: 'claude-sonnet-4-5', max_tokens: 40, prompt: `call ${i} ${'x'.repeat(i * 30)}`, account },
        auth,
      );
      expect(r.status).toBe(202);
      await get(`${s.url}/v1/jobs/${r.body.id}?wait=20`, auth);
    }
    expect(sims.east.stats().requests).toBe(4);
    expect(sims.aws.stats().requests).toBe(3);

    // The rollups are written off the job's path: wait until every finished job is in.
    let data: DashboardData | undefined;
    for (const until = Date.now() + 20_000; Date.now() < until; ) {
      data = (await get(`${s.url}/dashboard/data?range=1h`, auth)).body as DashboardData;
      const attempts = Object.values(data.accounts ?? {}).reduce((n, a) => n + a.attempts, 0);
      if (data.totals.jobs === pins.length && attempts === pins.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const priced = (sim: Simulator, factor: number) =>
      ((sim.stats().inputTokens * 3 + sim.stats().outputTokens * 15) / 1e6) * factor;
    expect(Object.keys(data!.accounts).sort()).toEqual(['anthropic/east', 'bedrock/aws']);
    expect(data!.accounts['anthropic/east']).toMatchObject({
      provider: 'anthropic',
      account: 'east',
      attempts: sims.east.stats().requests,
      failed_attempts: 0,
      completed: 4,
    });
    expect(data!.accounts['bedrock/aws']).toMatchObject({
      provider: 'bedrock',
      account: 'aws',
      attempts: sims.aws.stats().requests,
      failed_attempts: 1,
      completed: 2,
    });
    expect(data!.accounts['anthropic/east']!.cost_usd).toBeCloseTo(priced(sims.east, 1), 5);
    expect(data!.accounts['bedrock/aws']!.cost_usd).toBeCloseTo(priced(sims.aws, 1.1), 5);

    // `promptq report`: the same figures in the terminal, a row per account.
    const text = spawnCli(['report', '--since', '1h'], { ...redisEnv(), PROMPTQ_QUEUE: s.config.queue });
    expect(await text.exited).toBe(0);
    const out = text.stdout();
    expect(out).toContain('Per account (which served the calls)');
    const row = (provider: string, account: string) =>
      out
        .split('\n')
        .find((l) => l.startsWith(`${provider} `) && l.trim().split(/\s{2,}/)[1] === account)
        ?.trim()
        .split(/\s{2,}/);
    expect(row('anthropic', 'east')?.slice(2, 5)).toEqual(['4', '0', '4']);
    expect(row('bedrock', 'aws')?.slice(2, 5)).toEqual(['3', '1', '2']);
  }, 60_000);
});
