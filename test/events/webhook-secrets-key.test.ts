/**
 * Tenants' webhook secrets are encrypted at rest with a key of their own (`PROMPTQ_SECRETS_KEY`),
 * not one derived from `PROMPTQ_WEBHOOK_SECRET` (which the admin's receivers hold). A secret that
 * cannot be decrypted is not "no secret": its deliveries are held — not sent unsigned, not
 * dead-lettered — logged once, listed as needing the secret re-set, and go out once it is.
 * A value sealed the old way (`v1.`) is still read, and sealed again under the new key.
 */
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { WebhookDeliveries } from '../../src/ops/webhooks/deliveries.js';
import { keyspaceOf } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { TenantWebhooks } from '../../src/store/webhook-secrets.js';
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
const stackKey = newSecretsKey();
const job = (id: string, tenant: string) => ({
  id,
  model: 'claude-haiku-4-5',
  max_tokens: 8,
  prompt: `hello ${id}`,
  tenant_id: tenant,
});

/** A `v1.` value as promptq 0.1 sealed it: the key derived from the webhook signing secret. */
function sealV1(webhookSecret: string, plain: string, aad: string): string {
  const key = Buffer.from(hkdfSync('sha256', webhookSecret, 'promptq', 'tenant webhook secrets at rest', 32));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

describe('the key of webhook secrets at rest', () => {
  let stack: WebhookStack;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver(() => 200);
    stack = await startWebhookStack({
      PROMPTQ_WEBHOOK_SECRET: serverSecret,
      PROMPTQ_SECRETS_KEY: stackKey,
      PROMPTQ_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it('PROMPTQ_SECRETS_KEY: at least 32 characters, and not the signing secret', () => {
    const load = (key: string) => () =>
      loadConfig({ PROMPTQ_WEBHOOK_SECRET: serverSecret, PROMPTQ_SECRETS_KEY: key });
    expect(load('k'.repeat(31))).toThrow(/PROMPTQ_SECRETS_KEY: must be at least 32 characters/);
    expect(load('k'.repeat(32))().webhooks.secretsKey).toBe('k'.repeat(32));
    expect(load(serverSecret)).toThrow(/PROMPTQ_SECRETS_KEY: must not be PROMPTQ_WEBHOOK_SECRET/);
  });

  it('the signing secret alone does not decrypt a tenant secret', async () => {
    const redis = testRedis();
    const keys = keyspaceOf(stack.config);
    await new TenantStore(redis, keys).add('sealed');
    const secret = await new TenantWebhooks(redis, keys, {
      secret: serverSecret,
      secretsKey: stackKey,
    }).rotateSecret('sealed');
    expect((await redis.hget(keys.tenant('sealed'), 'webhook_secret'))?.startsWith('v2.')).toBe(true);
    // Whoever holds PROMPTQ_WEBHOOK_SECRET (every admin receiver) but not the key reads nothing.
    const withSigningSecret = await new TenantWebhooks(redis, keys, {
      secret: serverSecret,
      secretsKey: undefined,
    }).get('sealed');
    expect(withSigningSecret).toMatchObject({ secret: null, unreadable: 'PROMPTQ_SECRETS_KEY is not set' });
    const withAnotherKey = await new TenantWebhooks(redis, keys, {
      secret: serverSecret,
      secretsKey: newSecretsKey(),
    }).get('sealed');
    expect(withAnotherKey.secret).toBeNull();
    expect(withAnotherKey.unreadable).toMatch(/another PROMPTQ_SECRETS_KEY/);
    // The control: the key reads it, without the signing secret.
    expect(
      (await new TenantWebhooks(redis, keys, { secret: undefined, secretsKey: stackKey }).get('sealed'))
        .secret,
    ).toBe(secret);
    redis.disconnect();
  });

  it('two concurrent first receivers make one secret, and the one handed back is the one that signs', async () => {
    const redis = testRedis();
    const keys = keyspaceOf(stack.config);
    await new TenantStore(redis, keys).add('racing');
    const hooks = new TenantWebhooks(redis, keys, { secret: serverSecret, secretsKey: stackKey });
    const results = await Promise.all(
      ['https://a.example/hook', 'https://b.example/hook', 'https://c.example/hook'].map((url) =>
        hooks.setUrl('racing', url),
      ),
    );
    const made = results.map((r) => r.secret).filter((s) => s !== undefined);
    expect(made).toHaveLength(1);
    expect((await hooks.get('racing')).secret).toBe(made[0]);
    redis.disconnect();
  });

  it('a v1 value (key from the signing secret) is read, and sealed again under PROMPTQ_SECRETS_KEY', async () => {
    const redis = testRedis();
    const keys = keyspaceOf(stack.config);
    await new TenantStore(redis, keys).add('legacy');
    const secret = newSecret();
    await redis.hset(
      keys.tenant('legacy'),
      'webhook_secret',
      sealV1(serverSecret, secret, keys.tenant('legacy')),
    );
    const both = new TenantWebhooks(redis, keys, { secret: serverSecret, secretsKey: stackKey });
    expect((await both.get('legacy')).secret).toBe(secret);
    expect((await redis.hget(keys.tenant('legacy'), 'webhook_secret'))?.startsWith('v2.')).toBe(true);
    // From now on the key alone reads it.
    expect(
      (await new TenantWebhooks(redis, keys, { secret: undefined, secretsKey: stackKey }).get('legacy'))
        .secret,
    ).toBe(secret);
    redis.disconnect();
  });

  it('an undecryptable secret holds the deliveries (never unsigned, never dead-lettered) until re-set', async () => {
    const redis = testRedis();
    const keys = keyspaceOf(stack.config);
    await new TenantStore(redis, keys).add('lost');
    // Sealed under a key this deployment does not have (PROMPTQ_SECRETS_KEY changed).
    const old = new TenantWebhooks(redis, keys, { secret: serverSecret, secretsKey: newSecretsKey() });
    await old.setUrl('lost', `${receiver.url}?t=lost`);
    for (const id of ['held-1', 'held-2'])
      expect((await post(`${stack.url}/v1/jobs`, job(id, 'lost'))).status).toBe(202);
    const deliveries = new WebhookDeliveries(redis, keys, stack.config.webhooks, {
      completed: 60,
      failed: 60,
    });
    const held = await until(async () => {
      const list = (await deliveries.list(false)).filter((d) => d.job_id.startsWith('held-'));
      return list.length === 2 && list.every((d) => d.state === 'delayed' && d.last_error) ? list : undefined;
    });
    for (const d of held) {
      expect(d.attempts).toBe(0);
      expect(d.last_error).toMatch(/cannot be decrypted .*promptq tenants rotate-webhook-secret lost/);
    }
    // Rechecked several times (every 400 ms in this stack), still held; nothing sent, nothing dead.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.received.filter((r) => r.path.includes('t=lost'))).toEqual([]);
    expect((await deliveries.list(true)).filter((d) => d.job_id.startsWith('held-'))).toEqual([]);
    expect(
      stack.logs.filter((l) => l.includes('webhook deliveries held') && l.includes('"lost"')),
    ).toHaveLength(1);
    // Re-set: both held deliveries go out, signed with the new secret.
    const secret = await new TenantWebhooks(redis, keys, {
      secret: serverSecret,
      secretsKey: stackKey,
    }).rotateSecret('lost');
    const sent = await until(() => {
      const got = receiver.received.filter((r) => r.path.includes('t=lost') && r.status === 200);
      return got.length === 2 ? got : undefined;
    });
    const ids = sent.map(
      (r) => (new Webhook(secret).verify(r.body, r.headers) as { data: { id: string } }).data.id,
    );
    expect(ids.sort()).toEqual(['held-1', 'held-2']);
    const done = await until(async () => {
      const list = (await deliveries.list(false)).filter((d) => d.job_id.startsWith('held-'));
      return list.every((d) => d.state === 'completed') ? list : undefined;
    });
    expect(done.map((d) => d.last_error)).toEqual([null, null]);
    await deliveries.close();
    redis.disconnect();
  });
});

describe('a held delivery is held no longer than PROMPTQ_WEBHOOK_RETRY_PERIOD', () => {
  let stack: WebhookStack;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver(() => 200);
    stack = await startWebhookStack({
      PROMPTQ_WEBHOOK_SECRET: serverSecret,
      PROMPTQ_SECRETS_KEY: stackKey,
      PROMPTQ_WEBHOOK_ALLOW_PRIVATE: 'true',
      PROMPTQ_WEBHOOK_RETRY_PERIOD: '3',
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it('held (delayed, no attempt) before the period ends; dead-lettered, never sent, once it has', async () => {
    const redis = testRedis();
    const keys = keyspaceOf(stack.config);
    await new TenantStore(redis, keys).add('gone');
    const old = new TenantWebhooks(redis, keys, { secret: serverSecret, secretsKey: newSecretsKey() });
    await old.setUrl('gone', `${receiver.url}?t=gone`);
    expect((await post(`${stack.url}/v1/jobs`, job('late-1', 'gone'))).status).toBe(202);
    const deliveries = new WebhookDeliveries(redis, keys, stack.config.webhooks, {
      completed: 60,
      failed: 60,
    });
    const mine = async (dead: boolean) => (await deliveries.list(dead)).filter((d) => d.job_id === 'late-1');
    const held = await until(async () => {
      const [d] = await mine(false);
      return d?.state === 'delayed' && d.last_error ? d : undefined;
    });
    expect(held.attempts).toBe(0);
    expect(await mine(true)).toEqual([]);
    const dead = await until(async () => {
      const [d] = await mine(true);
      return d;
    }, 15_000);
    expect(dead.last_error).toMatch(/held for PROMPTQ_WEBHOOK_RETRY_PERIOD \(3 s\): dead-lettered/);
    expect(receiver.received.filter((r) => r.path.includes('t=gone'))).toEqual([]);
    await deliveries.close();
    redis.disconnect();
  }, 30_000);
});
