/**
 * A job's `account` is checked at enqueue: with no accounts file, or naming an account the file
 * does not have, it is a 400 naming the field (`account`, `account.N` in a list, `jobs.N.account`
 * in a batch) and nothing is queued. The controls: the same job naming a known account (or, with no
 * file, naming none) is taken.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { post, type Stack, startStack } from '../helpers/stack.js';

const job = { model: 'claude-haiku-4-5', max_tokens: 16, prompt: 'hi' };

describe("a job's account field at enqueue", () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  async function refused(body: unknown, field: string, path = '/v1/jobs'): Promise<string> {
    const before = await s!.bull.count();
    const r = await post(`${s!.url}${path}`, body);
    expect(r.status).toBe(400);
    expect(r.body.error?.type).toBe('invalid_request');
    expect(r.body.error?.message.startsWith(`${field}: `), r.body.error?.message).toBe(true);
    expect(r.body.error?.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(await s!.bull.count()).toBe(before);
    return r.body.error!.message;
  }

  it('with no accounts file: any account is a 400 naming the field', async () => {
    s = await startStack({ parts: { worker: false } });
    const message = await refused({ ...job, account: 'default' }, 'account');
    expect(message).toContain('PROMPTQ_ACCOUNTS');
    await refused({ jobs: [job, { ...job, account: ['a', 'b'] }] }, 'jobs.1.account', '/v1/jobs/batch');
    // Control: the same job without the field is taken.
    expect((await post(`${s.url}/v1/jobs`, job)).status).toBe(202);
  });

  it('with an accounts file: an unknown name is a 400 naming it; a known one is taken', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'promptq-acctfield-')), 'accounts.yaml');
    // The credentials' variables are not set here: an API process that only enqueues needs none.
    writeFileSync(
      file,
      `accounts:
  - name: east
    provider: anthropic
    api_key_env: PQ_ACCTFIELD_UNSET_KEY
  - name: west
    provider: bedrock
    region: us-west-2
`,
    );
    s = await startStack({ env: { PROMPTQ_ACCOUNTS: file }, parts: { worker: false } });
    const message = await refused({ ...job, account: 'north' }, 'account');
    expect(message).toContain('"north"');
    expect(message).toContain('east, west');
    await refused({ ...job, account: ['east', 'Wes'] }, 'account.1');
    await refused(
      {
        jobs: [
          { ...job, account: 'east' },
          { ...job, account: 'x' },
        ],
      },
      'jobs.1.account',
      '/v1/jobs/batch',
    );
    // Controls: known names, alone, in a list and in a batch.
    expect((await post(`${s.url}/v1/jobs`, { ...job, account: 'west' })).status).toBe(202);
    expect((await post(`${s.url}/v1/jobs`, { ...job, account: ['east', 'west'] })).status).toBe(202);
    const batch = await post(`${s.url}/v1/jobs/batch`, { jobs: [{ ...job, account: 'east' }, job] });
    expect(batch.status).toBe(202);
  });
});
