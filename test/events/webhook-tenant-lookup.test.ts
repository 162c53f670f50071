/**
 * A finished job's tenant default receiver is read from Redis per job only for a tenant that has a
 * record (issue 22 item 6: Redis commands per job). A `tenant_id` that names no tenant is
 * remembered for the worker's `tenantUnknownCacheMs`: its next jobs finish without a read. The
 * control: a tenant with a record is read for every job, so a receiver set on it applies to the
 * very next job; and a tenant created with a receiver is found once the memory has run out.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { PromptqEvents } from '../../src/events/emitter.js';
import { subscribeWebhooks } from '../../src/ops/webhooks/subscriber.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { TenantWebhooks } from '../../src/store/webhook-secrets.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testKeys, testRedis } from '../helpers/topology.js';
import { newSecret, newSecretsKey } from './webhook-helpers.js';

describe("a tenant's default receiver", () => {
  const redis = testRedis();
  afterAll(() => redis.disconnect());

  it('is read per job for a tenant with a record, and not again within the memory for one without', async () => {
    const keys = testKeys(uniqueQueue());
    const tenants = new TenantWebhooks(redis, keys, { secret: newSecret(), secretsKey: newSecretsKey() });
    let reads = 0;
    const counted = {
      defaultUrl: (name: string) => {
        reads += 1;
        return tenants.defaultUrl(name);
      },
    };
    const added: object[] = [];
    const events = new PromptqEvents();
    const memoryMs = 400;
    subscribeWebhooks(events, { enqueue: async (d) => String(added.push(d)) }, counted, memoryMs);
    const finish = async (jobId: string, tenant: string) => {
      const request = { model: 'claude-haiku-4-5', max_tokens: 5, messages: [], tenant_id: tenant };
      const record = newRecord(request, Date.now());
      await events.emit('completed', { jobId, model: request.model, record, request });
      await events.idle();
    };

    // No record: read once, then remembered.
    await finish('u1', 'ghost');
    await finish('u2', 'ghost');
    await finish('u3', 'ghost');
    expect(reads).toBe(1);
    // A record without a receiver: read for every job (the control: no memory for it).
    await new TenantStore(redis, keys).add('acme');
    await finish('a1', 'acme');
    await finish('a2', 'acme');
    expect(reads).toBe(3);
    // A receiver set on it applies to the very next job.
    await tenants.setUrl('acme', 'https://acme.example/hook');
    await finish('a3', 'acme');
    expect(added).toEqual([
      { jobId: 'a3', event: 'job.completed', url: 'https://acme.example/hook', tenant: 'acme' },
    ]);
    // The tenant without a record is created with a receiver: found once the memory has run out.
    await new TenantStore(redis, keys).add('ghost');
    await tenants.setUrl('ghost', 'https://ghost.example/hook');
    await new Promise((r) => setTimeout(r, memoryMs + 50));
    await finish('u4', 'ghost');
    expect(added.at(-1)).toEqual({
      jobId: 'u4',
      event: 'job.completed',
      url: 'https://ghost.example/hook',
      tenant: 'ghost',
    });
    expect(reads).toBe(5);
    events.close();
  });
});
