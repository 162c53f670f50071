/**
 * The SSRF guard: a webhook to a loopback, private, link-local or metadata address is refused at
 * enqueue (400 naming `webhook.url`); a host name that resolves to a public address at enqueue and
 * to loopback at connect (DNS rebinding) is refused at connect, and so is a redirect to a private
 * address (redirects are never followed). Host names resolve through a resolver handed to the
 * service — the same checks as with the system resolver. Each refusal has its control: the same
 * target allowed (`PROMPTQ_WEBHOOK_ALLOW_HOSTS`) is reached.
 */
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDeliveries } from '../../src/ops/webhooks/deliveries.js';
import { post } from '../helpers/stack.js';
import {
  newSecret,
  type Receiver,
  startReceiver,
  startWebhookStack,
  until,
  type WebhookStack,
} from './webhook-helpers.js';

const job = (id: string, url: string) => ({
  id,
  model: 'claude-haiku-4-5',
  max_tokens: 16,
  prompt: `hello ${id}`,
  webhook: { url },
});

describe('webhooks: SSRF guard', () => {
  let stack: WebhookStack;
  let target: Receiver;
  let redirector: Receiver;
  let deliveries: WebhookDeliveries;
  const lookups = new Map<string, number>();
  /** rebind*.test: a public address at the first lookup (enqueue), loopback after (connect). */
  const resolve = async (host: string): Promise<LookupAddress[]> => {
    const n = (lookups.get(host) ?? 0) + 1;
    lookups.set(host, n);
    if (host === 'internal.test') return [{ address: '10.0.0.7', family: 4 }];
    if (host === 'v6-local.test') return [{ address: '::ffff:127.0.0.1', family: 6 }];
    if (host.startsWith('rebind')) return [{ address: n === 1 ? '8.8.8.8' : '127.0.0.1', family: 4 }];
    if (host === 'redir.test') return [{ address: '127.0.0.1', family: 4 }];
    throw new Error(`ENOTFOUND ${host}`);
  };

  beforeAll(async () => {
    target = await startReceiver(() => 200);
    redirector = await startReceiver((_req, _body, res) => {
      res.writeHead(302, { location: target.url }).end();
      return null;
    });
    stack = await startWebhookStack(
      {
        PROMPTQ_WEBHOOK_SECRET: newSecret(),
        PROMPTQ_WEBHOOK_ALLOW_HOSTS: 'redir.test,rebind-allowed.test,127.0.0.2/32',
      },
      resolve,
    );
    const { queue } = stack.svc;
    deliveries = new WebhookDeliveries(queue.connection, queue.keys, stack.config.webhooks, {
      completed: 60,
      failed: 60,
    });
  });
  afterAll(async () => {
    await deliveries?.close();
    await stack?.close();
    await target?.close();
    await redirector?.close();
  });

  it('refuses loopback, private, link-local, metadata and privately resolving hosts at enqueue', async () => {
    for (const [i, url] of [
      `http://127.0.0.1:${target.port}/hook`,
      `http://[::1]:${target.port}/hook`,
      `http://[::127.0.0.1]:${target.port}/hook`,
      'http://[::a9fe:a9fe]/latest/meta-data/',
      'http://10.1.2.3/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/',
      'http://internal.test/hook',
      'http://v6-local.test/hook',
    ].entries()) {
      const res = await post(`${stack.url}/v1/jobs`, job(`ssrf-${i}`, url));
      expect(res.status, url).toBe(400);
      expect(JSON.stringify(res.body.error?.details), url).toContain('webhook.url');
    }
    // Controls: an address in an allowed range, and a name that resolves to a public address, pass.
    expect((await post(`${stack.url}/v1/jobs`, job('ok-range', 'http://127.0.0.2:9/h'))).status).toBe(202);
    expect(target.received).toHaveLength(0);
  });

  it('refuses at connect a host that resolves to loopback after enqueue (DNS rebinding)', async () => {
    const refused = `http://rebind.test:${target.port}/refused`;
    const allowed = `http://rebind-allowed.test:${target.port}/allowed`;
    expect((await post(`${stack.url}/v1/jobs`, job('rebind-1', refused))).status).toBe(202);
    expect((await post(`${stack.url}/v1/jobs`, job('rebind-2', allowed))).status).toBe(202);
    // Control: the allowed twin reaches the receiver on loopback.
    await until(() => target.received.find((r) => r.path === '/allowed'));
    const dead = await until(async () => (await deliveries.list(true)).find((d) => d.job_id === 'rebind-1'));
    expect(dead.last_error).toMatch(/refused: .*loopback, private/);
    expect(lookups.get('rebind.test')).toBeGreaterThanOrEqual(2);
    expect(target.received.filter((r) => r.path === '/refused')).toHaveLength(0);
  });

  it('does not follow a redirect to a private address', async () => {
    const url = `http://redir.test:${redirector.port}/hook`;
    expect((await post(`${stack.url}/v1/jobs`, job('redirect-1', url))).status).toBe(202);
    const dead = await until(async () =>
      (await deliveries.list(true)).find((d) => d.job_id === 'redirect-1'),
    );
    expect(dead.last_error).toMatch(/redirected \(302\)/);
    expect(redirector.received).toHaveLength(1);
    const before = target.received.length;
    expect(target.received.filter((r) => r.path === '/hook')).toHaveLength(0);
    // Control: a client that follows redirects reaches the private target from the same URL.
    await fetch(`http://127.0.0.1:${redirector.port}/hook`, { method: 'POST', body: '{}' });
    expect(target.received.length).toBe(before + 1);
  });
});
