/**
 * The commands: `promptq tenants set NAME --webhook-url URL` prints the tenant's whsec_ secret once
 * (alone on stdout), `rotate-webhook-secret` replaces it, a private receiver or a missing
 * PROMPTQ_SECRETS_KEY exits 2; a delivery that keeps failing is dead-lettered, `promptq webhooks
 * list --failed` shows it and `promptq webhooks retry ID` delivers it under the same webhook-id.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { post } from '../helpers/stack.js';
import { redisEnv } from '../helpers/topology.js';
import {
  newSecret,
  newSecretsKey,
  type Receiver,
  startReceiver,
  startWebhookStack,
  until,
  type WebhookStack,
} from './webhook-helpers.js';

async function cli(args: string[], env: Record<string, string>) {
  const p = spawnCli(args, env);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

describe('webhook commands', () => {
  const secret = newSecret();
  const secretsKey = newSecretsKey();
  let stack: WebhookStack;
  let receiver: Receiver;
  let answer = 500;
  let env: Record<string, string>;
  beforeAll(async () => {
    receiver = await startReceiver(() => answer);
    stack = await startWebhookStack({
      PROMPTQ_WEBHOOK_SECRET: secret,
      PROMPTQ_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    env = {
      ...redisEnv(),
      PROMPTQ_QUEUE: stack.config.queue,
      PROMPTQ_WEBHOOK_SECRET: secret,
      PROMPTQ_SECRETS_KEY: secretsKey,
      PROMPTQ_WEBHOOK_ALLOW_PRIVATE: 'true',
    };
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it('tenants set --webhook-url prints the secret once; rotate-webhook-secret replaces it', async () => {
    expect((await cli(['tenants', 'add', 'hooked'], env)).code).toBe(0);
    const set = await cli(['tenants', 'set', 'hooked', '--webhook-url', `${receiver.url}?t=1`], env);
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/^whsec_[A-Za-z0-9+/]+=*\n$/);
    // Set again: the secret is not shown again.
    const again = await cli(['tenants', 'set', 'hooked', '--webhook-url', `${receiver.url}?t=2`], env);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain('whsec_');
    const rotated = await cli(['tenants', 'rotate-webhook-secret', 'hooked'], env);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/^whsec_/);
    expect(rotated.stdout).not.toBe(set.stdout);
    // A private receiver is refused without the allowance (the control above had it).
    const { PROMPTQ_WEBHOOK_ALLOW_PRIVATE: _, ...strict } = env;
    const refused = await cli(['tenants', 'set', 'hooked', '--webhook-url', receiver.url], strict);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('private');
    // Without the secrets key a tenant secret cannot be made (the signing secret is not enough).
    const { PROMPTQ_SECRETS_KEY: __, ...noKey } = env;
    const missing = await cli(['tenants', 'rotate-webhook-secret', 'hooked'], noKey);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('PROMPTQ_SECRETS_KEY');
    expect(missing.stderr).not.toContain(secret.slice(6));
  }, 60_000);

  it('a dead-lettered delivery is listed and replayed under the same webhook-id', async () => {
    answer = 500;
    const body = {
      id: 'dead-1',
      model: 'claude-haiku-4-5',
      max_tokens: 8,
      prompt: 'hi',
      webhook: { url: receiver.url },
    };
    expect((await post(`${stack.url}/v1/jobs`, body)).status).toBe(202);
    // Retried for the period (3 s in this stack), then dead-lettered.
    const listed = await until(async () => {
      const r = await cli(['webhooks', 'list', '--failed', '--json'], env);
      const list = JSON.parse(r.stdout) as Array<{
        id: string;
        job_id: string;
        attempts: number;
        last_error: string;
      }>;
      return list.find((d) => d.job_id === 'dead-1');
    }, 40_000);
    expect(listed.last_error).toContain('answered 500');
    expect(listed.attempts).toBeGreaterThan(1);
    const attemptsBefore = receiver.received.filter((r) => r.headers['webhook-id'] === listed.id).length;
    expect(attemptsBefore).toBe(listed.attempts);
    answer = 200;
    const retried = await cli(['webhooks', 'retry', listed.id], env);
    expect(retried.code).toBe(0);
    const delivered = await until(() =>
      receiver.received.find((r) => r.headers['webhook-id'] === listed.id && r.status === 200),
    );
    expect(new Webhook(secret).verify(delivered.body, delivered.headers)).toMatchObject({
      type: 'job.completed',
    });
    const table = await cli(['webhooks', 'list'], env);
    expect(table.stdout).toContain(listed.id);
    expect(table.stdout).toContain('completed');
    // An unknown id exits 1.
    expect((await cli(['webhooks', 'retry', 'msg_nope'], env)).code).toBe(1);
  }, 90_000);
});
