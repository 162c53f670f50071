import { afterEach, describe, expect, inject, it } from 'vitest';
import { Keyspace } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { spawnCli } from '../helpers/cli.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

const admin = 'admin-token-0123456789abcdef';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const job = { model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'hi' };

async function patch(url: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(url, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('tenants: tokens and scoping on the HTTP API', () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('a tenant token is that tenant: its jobs, 403 for another tenant_id, 404 for another tenant’s job; the admin acts for any', async () => {
    s = await startStack({ env: { PROMPTQ_AUTH_TOKEN: admin }, parts: { worker: false } });
    const created = await post(`${s.url}/v1/tenants`, { name: 'acme', daily_usd: 5 }, bearer(admin));
    expect(created.status).toBe(201);
    const acme = created.body.token as string;
    expect(acme).toMatch(/^pqt_[A-Za-z0-9_-]{43}$/);
    const globex = (await post(`${s.url}/v1/tenants`, { name: 'globex' }, bearer(admin))).body
      .token as string;

    // No tenant_id: the token's tenant is filled in. The same one: fine. Another: 403.
    const own = await post(`${s.url}/v1/jobs`, job, bearer(acme));
    expect(own.status).toBe(202);
    expect((await get(`${s.url}/v1/jobs/${own.body.id}`, bearer(acme))).body.request.tenant_id).toBe('acme');
    expect((await post(`${s.url}/v1/jobs`, { ...job, tenant_id: 'acme' }, bearer(acme))).status).toBe(202);
    const other = await post(`${s.url}/v1/jobs`, { ...job, tenant_id: 'globex' }, bearer(acme));
    expect(other.status).toBe(403);
    expect(other.body.error?.type).toBe('forbidden');
    const batch = await post(
      `${s.url}/v1/jobs/batch`,
      { jobs: [job, { ...job, tenant_id: 'globex' }] },
      bearer(acme),
    );
    expect(batch.status).toBe(403);
    expect(batch.body.error?.message).toMatch(/^jobs\.1\.tenant_id/);

    // Another tenant's job is no job to acme: 404, as for an unknown id (ids are per tenant:
    // test/tenants/tenant-ids.test.ts).
    const theirs = await post(`${s.url}/v1/jobs`, { ...job, id: 'globex-1' }, bearer(globex));
    expect(theirs.status).toBe(202);
    expect((await get(`${s.url}/v1/jobs/globex-1`, bearer(acme))).status).toBe(404);
    // Not after the wait: at once, as for an id that does not exist.
    const t0 = Date.now();
    expect((await get(`${s.url}/v1/jobs/globex-1?wait=5`, bearer(acme))).status).toBe(404);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await get(`${s.url}/v1/jobs/globex-1`, bearer(globex))).status).toBe(200);
    // The only way to cancel or remove a job is Bull Board: the admin's alone.
    expect((await get(`${s.url}/admin/queues/api/queues`, bearer(acme))).status).toBe(401);
    expect((await get(`${s.url}/dashboard/data`, bearer(acme))).status).toBe(401);

    // The admin reads every job (a tenant's own ids by ?tenant=) and submits for any tenant.
    expect((await get(`${s.url}/v1/jobs/globex-1?tenant=globex`, bearer(admin))).status).toBe(200);
    expect((await get(`${s.url}/v1/jobs/globex-1`, bearer(admin))).status).toBe(404);
    const forAcme = await post(`${s.url}/v1/jobs`, { ...job, tenant_id: 'acme' }, bearer(admin));
    expect((await get(`${s.url}/v1/jobs/${forAcme.body.id}`, bearer(acme))).status).toBe(200);

    // Tenants cannot manage tenants.
    expect((await get(`${s.url}/v1/tenants`, bearer(acme))).status).toBe(403);
    expect((await post(`${s.url}/v1/tenants/acme/rotate`, {}, bearer(acme))).status).toBe(403);
  });

  it('revoke refuses the token on the very next request; rotate swaps tokens at once', async () => {
    s = await startStack({ env: { PROMPTQ_AUTH_TOKEN: admin }, parts: { worker: false } });
    const token = (await post(`${s.url}/v1/tenants`, { name: 'acme' }, bearer(admin))).body.token as string;
    expect((await post(`${s.url}/v1/jobs`, job, bearer(token))).status).toBe(202);
    const revoked = await post(`${s.url}/v1/tenants/acme/revoke`, {}, bearer(admin));
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    expect((await post(`${s.url}/v1/jobs`, job, bearer(token))).status).toBe(401);
    expect((await get(`${s.url}/v1/jobs/x`, bearer(token))).status).toBe(401);

    const fresh = (await post(`${s.url}/v1/tenants/acme/rotate`, {}, bearer(admin))).body.token as string;
    expect(fresh).not.toBe(token);
    expect((await post(`${s.url}/v1/jobs`, job, bearer(fresh))).status).toBe(202);
    const again = (await post(`${s.url}/v1/tenants/acme/rotate`, {}, bearer(admin))).body.token as string;
    expect((await post(`${s.url}/v1/jobs`, job, bearer(fresh))).status).toBe(401);
    expect((await post(`${s.url}/v1/jobs`, job, bearer(again))).status).toBe(202);
    // A token of the right shape that was never issued.
    expect((await post(`${s.url}/v1/jobs`, job, bearer(`pqt_${'A'.repeat(43)}`))).status).toBe(401);
  });

  it('the admin routes: list, get, patch, errors; never a token or digest in a view', async () => {
    s = await startStack({ parts: { worker: false } });
    const c = await post(`${s.url}/v1/tenants`, { name: 'acme', daily_usd: 2, on_exceed: 'fail' });
    expect(c.body.tenant).toMatchObject({ name: 'acme', daily_usd: 2, monthly_usd: null, on_exceed: 'fail' });
    expect((await post(`${s.url}/v1/tenants`, { name: 'acme' })).status).toBe(409);
    expect((await post(`${s.url}/v1/tenants`, { name: 'a b' })).status).toBe(400);
    const bad = await post(`${s.url}/v1/tenants`, { name: 'x', daily_usd: -1 });
    expect([bad.status, bad.body.error?.message]).toEqual([400, expect.stringMatching(/^daily_usd/)]);
    expect((await post(`${s.url}/v1/tenants`, { name: 'x', colour: 'red' })).body.error?.message).toMatch(
      /^colour/,
    );
    const p = await patch(`${s.url}/v1/tenants/acme`, { daily_usd: null, monthly_usd: 30 }, {});
    expect(p.body).toMatchObject({ daily_usd: null, monthly_usd: 30, on_exceed: 'fail' });
    expect((await patch(`${s.url}/v1/tenants/nobody`, { daily_usd: 1 }, {})).status).toBe(404);
    // A share of the discovered limits: more than 0, at most 1; null removes it.
    expect((await patch(`${s.url}/v1/tenants/acme`, { share: 1 }, {})).body).toMatchObject({ share: 1 });
    expect((await patch(`${s.url}/v1/tenants/acme`, { share: 0.25 }, {})).body).toMatchObject({
      share: 0.25,
    });
    for (const share of [0, 1.01, -0.5, '0.5']) {
      const r = await patch(`${s.url}/v1/tenants/acme`, { share }, {});
      expect([r.status, r.body.error?.message]).toEqual([400, expect.stringMatching(/^share: /)]);
    }
    expect((await get(`${s.url}/v1/tenants/acme`)).body.share).toBe(0.25);
    expect((await patch(`${s.url}/v1/tenants/acme`, { share: null }, {})).body).toMatchObject({
      share: null,
    });
    expect((await post(`${s.url}/v1/tenants`, { name: 'half', share: 0.5 })).body.tenant).toMatchObject({
      share: 0.5,
    });
    const one = await get(`${s.url}/v1/tenants/acme`);
    expect(one.body.spent_usd).toEqual({ day: 0, month: 0 });
    const list = await get(`${s.url}/v1/tenants`);
    expect(list.body.tenants.map((t: { name: string }) => t.name)).toEqual(['acme', 'half']);
    const digest = await s.redis.hget(`bull:${s.config.queue}:promptq:tenant:acme`, 'token_sha256');
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    for (const body of [c.body.tenant, one.body, list.body]) {
      expect(JSON.stringify(body)).not.toContain(digest);
      expect(JSON.stringify(body)).not.toContain(c.body.token);
    }
  });
});

describe('promptq tenants (the CLI)', () => {
  it('add prints the token alone, once; list shows a table and JSON; set, rotate, revoke; bad input exits 2', async () => {
    const redisUrl = inject('redisUrl');
    const queue = `t-cli-${Date.now()}`;
    const env = { REDIS_URL: redisUrl, PROMPTQ_QUEUE: queue };
    const run = async (...args: string[]) => {
      const p = spawnCli(['tenants', ...args], env);
      return { code: await p.exited, out: p.stdout(), err: p.stderr() };
    };
    const add = await run('add', 'acme', '--daily-usd', '2.5', '--on-exceed', 'fail');
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/^pqt_[A-Za-z0-9_-]{43}\n$/);
    const token = add.out.trim();
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl);
    try {
      expect(await new TenantStore(redis, new Keyspace({ queue })).resolve(token)).toBe('acme');
      const table = await run();
      expect(table.code).toBe(0);
      expect(table.out).toMatch(/^tenant\s+today \(spent \/ budget\)/);
      expect(table.out).toMatch(/acme\s+\$0\.0000 \/ \$2\.50\s+\$0\.0000 \/ -\s+fail\s+-\s+active/);
      expect(table.out).not.toContain(token);
      const json = JSON.parse((await run('list', '--json')).out);
      expect(json).toEqual([expect.objectContaining({ name: 'acme', daily_usd: 2.5, on_exceed: 'fail' })]);
      expect((await run('set', 'acme', '--monthly-usd', '40', '--daily-usd', 'none')).code).toBe(0);
      expect(JSON.parse((await run('list', '--json')).out)[0]).toMatchObject({
        daily_usd: null,
        monthly_usd: 40,
      });
      const quota = await run('set', 'acme', '--rpm', '60', '--tpm', '90000');
      expect(quota.out).toMatch(/acme .* 60 rpm, 90000 tpm\s+active/);
      expect((await run('set', 'acme', '--rpm', '0')).code).toBe(2);
      // --share: (0, 1]; both edges.
      expect((await run('set', 'acme', '--share', '1')).code).toBe(0);
      const shared = await run('set', 'acme', '--share', '0.25');
      expect(shared.out).toMatch(/acme .* 60 rpm, 90000 tpm, 0\.25 share\s+active/);
      expect(JSON.parse((await run('list', '--json')).out)[0]).toMatchObject({ share: 0.25 });
      for (const bad of ['0', '1.01', 'half'])
        expect((await run('set', 'acme', '--share', bad)).code).toBe(2);
      expect(JSON.parse((await run('list', '--json')).out)[0]).toMatchObject({ share: 0.25 });
      const rotated = await run('rotate', 'acme');
      expect(rotated.out).toMatch(/^pqt_[A-Za-z0-9_-]{43}\n$/);
      expect(await new TenantStore(redis, new Keyspace({ queue })).resolve(token)).toBeNull();
      expect((await run('revoke', 'acme')).code).toBe(0);
      expect(await new TenantStore(redis, new Keyspace({ queue })).resolve(rotated.out.trim())).toBeNull();
      const dup = await run('add', 'acme');
      expect([dup.code, dup.out, dup.err]).toEqual([
        2,
        '',
        expect.stringMatching(/^promptq: tenant "acme" exists/),
      ]);
      expect((await run('add', 'x', '--daily-usd', 'lots')).code).toBe(2);
      expect((await run('set', 'nobody', '--daily-usd', '1')).code).toBe(1);
    } finally {
      redis.disconnect();
    }
    // A dozen CLI processes: slow on a loaded machine.
  }, 120_000);
});
