/**
 * Webhooks are delivered at least once, signed per Standard Webhooks: a receiver that answers 500
 * to each delivery's first attempt, then 200, ends with exactly one delivered `webhook-id` per job,
 * the same id on every attempt, and every signature verifies with the `standardwebhooks` library.
 * A tenant's default receiver gets its jobs, signed with the tenant's own secret, which Redis holds
 * only encrypted.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDeliveries } from '../../src/ops/webhooks/deliveries.js';
import { keyspaceOf } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { TenantWebhooks } from '../../src/store/webhook-secrets.js';
import { dumpRedis } from '../helpers/redis-dump.js';
import { post } from '../helpers/stack.js';
import { testRedis } from '../helpers/topology.js';
import {
  newSecret,
  newSecretsKey,
  type Receiver,
  startReceiver,
  startWebhookStack,
  until,
  type WebhookStack,
} from './webhook-helpers.js';

const serverSecret = newSecret();
const secretsKey = newSecretsKey();
const secrets = { secret: serverSecret, secretsKey };
const job = (id: string, url?: string) => ({
  id,
  model: 'claude-haiku-4-5',
  max_tokens: 16,
  prompt: `hello ${id}`,
  ...(url === undefined ? {} : { webhook: { url } }),
});

describe('webhooks: signed, at least once', () => {
  let stack: WebhookStack;
  let receiver: Receiver;
  const firstSeen = new Set<string>();

  beforeAll(async () => {
    // The first attempt of every delivery fails (500); later ones succeed.
    receiver = await startReceiver((req) => {
      const id = String(req.headers['webhook-id']);
      if (firstSeen.has(id)) return 200;
      firstSeen.add(id);
      return 500;
    });
    stack = await startWebhookStack({
      PROMPTQ_WEBHOOK_SECRET: serverSecret,
      PROMPTQ_SECRETS_KEY: secretsKey,
      PROMPTQ_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it('every job ends in exactly one delivered webhook-id; every attempt verifies', async () => {
    const ids = ['wh-a', 'wh-b', 'wh-c'];
    for (const id of ids)
      expect((await post(`${stack.url}/v1/jobs`, job(id, receiver.url))).status).toBe(202);
    const byJob = () => {
      const out = new Map<string, typeof receiver.received>();
      for (const r of receiver.received) {
        const jobId = (JSON.parse(r.body) as { data: { id: string } }).data.id;
        out.set(jobId, [...(out.get(jobId) ?? []), r]);
      }
      return out;
    };
    await until(
      () =>
        ids.every((id) =>
          byJob()
            .get(id)
            ?.some((r) => r.status === 200),
        ) || undefined,
    );
    const wh = new Webhook(serverSecret);
    for (const id of ids) {
      const attempts = byJob().get(id)!;
      // At least the refused attempt and the delivered one, all under one webhook-id.
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
      expect(attempts.filter((a) => a.status === 200)).toHaveLength(1);
      for (const a of attempts) {
        const payload = wh.verify(a.body, a.headers) as { type: string; data: Record<string, unknown> };
        expect(payload.type).toBe('job.completed');
        expect(payload.data.state).toBe('completed');
        expect(payload.data.id).toBe(id);
        expect(payload.data.result).toMatchObject({ type: 'message' });
      }
      // Every attempt sent the same bytes.
      expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
    }
    // A signature made with another secret does not verify (the check can fail).
    const a = byJob().get('wh-a')![0]!;
    expect(() => new Webhook(newSecret()).verify(a.body, a.headers)).toThrow();
    const deliveries = new WebhookDeliveries(
      stack.svc.queue.connection,
      stack.svc.queue.keys,
      stack.config.webhooks,
      {
        completed: 60,
        failed: 60,
      },
    );
    const listed = await deliveries.list(false);
    expect(
      listed
        .filter((d) => d.state === 'completed')
        .map((d) => d.job_id)
        .sort(),
    ).toEqual(ids);
    expect(await deliveries.list(true)).toEqual([]);
    await deliveries.close();
  });

  it("a tenant's default receiver gets its jobs, signed with the tenant's secret, encrypted at rest", async () => {
    const redis = testRedis();
    const keys = keyspaceOf(stack.config);
    await new TenantStore(redis, keys).add('acme');
    const { secret } = await new TenantWebhooks(redis, keys, secrets).setUrl(
      'acme',
      `${receiver.url}?t=acme`,
    );
    expect(secret).toMatch(/^whsec_/);
    expect((await post(`${stack.url}/v1/jobs`, { ...job('wh-t'), tenant_id: 'acme' })).status).toBe(202);
    const delivered = await until(() =>
      receiver.received.find((r) => r.path.includes('t=acme') && r.status === 200),
    );
    const payload = new Webhook(secret!).verify(delivered.body, delivered.headers) as {
      data: { id: string };
    };
    expect(payload.data.id).toBe('wh-t');
    // Not the server's secret.
    expect(() => new Webhook(serverSecret).verify(delivered.body, delivered.headers)).toThrow();
    // Redis holds the tenant's secret only encrypted: neither the secret nor its key bytes appear.
    const dump = [...(await dumpRedis(redis)).values()].join('\n');
    expect(dump).toContain('webhook_secret');
    expect(dump).not.toContain(secret!);
    expect(dump).not.toContain(secret!.slice(6));
    expect(dump).not.toContain(serverSecret.slice(6));
    expect(dump).not.toContain(secretsKey);
    // Nor does any log line carry a secret, though the deliveries were logged (the 500s).
    const logs = stack.logs.join('\n');
    expect(logs).toContain('webhook delivery failed');
    for (const s of [secret!.slice(6), serverSecret.slice(6)]) expect(logs).not.toContain(s);
    redis.disconnect();
  });

  it("a tenant's job is never signed with the server's secret: no tenant secret, no delivery", async () => {
    const redis = testRedis();
    const keys = keyspaceOf(stack.config);
    await new TenantStore(redis, keys).add('mallory');
    const deliveries = new WebhookDeliveries(redis, keys, stack.config.webhooks, {
      completed: 60,
      failed: 60,
    });
    // The tenant has no webhook secret and names the admin's receiver for its own job.
    const url = `${receiver.url}?t=mallory`;
    expect((await post(`${stack.url}/v1/jobs`, { ...job('wh-m1', url), tenant_id: 'mallory' })).status).toBe(
      202,
    );
    const dead = await until(async () => (await deliveries.list(true)).find((d) => d.job_id === 'wh-m1'));
    expect(dead.last_error).toMatch(/tenant "mallory" has no webhook secret/);
    expect(receiver.received.filter((r) => r.path.includes('t=mallory'))).toEqual([]);
    // The control: once the tenant has a secret, the same kind of job is delivered, signed with it.
    const secret = await new TenantWebhooks(redis, keys, secrets).rotateSecret('mallory');
    expect((await post(`${stack.url}/v1/jobs`, { ...job('wh-m2', url), tenant_id: 'mallory' })).status).toBe(
      202,
    );
    const delivered = await until(() =>
      receiver.received.find((r) => r.path.includes('t=mallory') && r.status === 200),
    );
    expect(
      (new Webhook(secret).verify(delivered.body, delivered.headers) as { data: { id: string } }).data.id,
    ).toBe('wh-m2');
    await deliveries.close();
    redis.disconnect();
  });
});
