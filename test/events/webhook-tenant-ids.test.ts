/**
 * Ids are per tenant, webhooks too: the admin's job `same` (no tenant, no webhook) and two tenants'
 * jobs `same`, each with a receiver. Each tenant's receiver gets its own job's view (its own prompt),
 * never the admin's, and neither delivery is lost to another's `webhook-id`.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyspaceOf } from '../../src/store/keys.js';
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

describe('webhooks of tenants that share a job id', () => {
  const admin = 'admin-token-0123456789abcdef';
  const serverSecret = newSecret();
  const secretsKey = newSecretsKey();
  let stack: WebhookStack;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver(() => 200);
    stack = await startWebhookStack({
      PROMPTQ_WEBHOOK_SECRET: serverSecret,
      PROMPTQ_SECRETS_KEY: secretsKey,
      PROMPTQ_WEBHOOK_ALLOW_PRIVATE: 'true',
      PROMPTQ_AUTH_TOKEN: admin,
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it("each tenant's receiver gets its own job, signed with its own secret; none is lost", async () => {
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const tok = async (name: string) =>
      String((await post(`${stack.url}/v1/tenants`, { name }, auth(admin))).body.token);
    const tokens = { ta: await tok('ta'), tb: await tok('tb') };
    const redis = testRedis();
    const tw = new TenantWebhooks(redis, keyspaceOf(stack.config), { secret: serverSecret, secretsKey });
    const secrets = { ta: await tw.rotateSecret('ta'), tb: await tw.rotateSecret('tb') };
    redis.disconnect();
    const job = (who: string) => ({
      id: 'same',
      model: 'claude-haiku-4-5',
      max_tokens: 8,
      prompt: `prompt of ${who}`,
    });
    expect((await post(`${stack.url}/v1/jobs`, job('admin'), auth(admin))).status).toBe(202);
    await until(
      async () =>
        (
          (await fetch(`${stack.url}/v1/jobs/same?wait=20`, { headers: auth(admin) }).then((r) =>
            r.json(),
          )) as { state: string }
        ).state === 'completed' || undefined,
    );
    for (const t of ['ta', 'tb'] as const) {
      const body = { ...job(t), webhook: { url: `${receiver.url}?who=${t}` } };
      expect((await post(`${stack.url}/v1/jobs`, body, auth(tokens[t]))).status).toBe(202);
    }
    for (const t of ['ta', 'tb'] as const) {
      const got = await until(() =>
        receiver.received.find((r) => r.path.includes(`who=${t}`) && r.status === 200),
      );
      const payload = new Webhook(secrets[t]).verify(got.body, got.headers) as {
        data: { id: string; request: { messages: Array<{ content: string }> } };
      };
      expect(payload.data.id).toBe('same');
      expect(payload.data.request.messages[0]!.content).toBe(`prompt of ${t}`);
    }
  }, 60_000);
});
