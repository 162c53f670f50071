/**
 * A caller's own `metadata.user_id` (its end user) reaches the API unchanged; the tenant is sent as
 * `metadata.user_id` only when the caller gave none. Read from what the simulator was sent.
 */
import type { ServedResponse } from '@promptq/anthropic-simulator';
import { afterEach, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

describe("the caller's metadata.user_id is kept", () => {
  let s: Stack | undefined;
  const served: ServedResponse[] = [];
  afterEach(async () => {
    await s?.close();
    s = undefined;
    served.length = 0;
  });

  it('with a tenant: the caller’s user_id is sent as given; without one, the tenant is', async () => {
    s = await startStack({ sim: { onServed: (r) => served.push(r) } });
    const run = async (body: Record<string, unknown>) => {
      const r = await post(`${s!.url}/v1/jobs`, {
        model: 'claude-haiku-4-5',
        max_tokens: 5,
        prompt: 'hi',
        ...body,
      });
      expect(r.status).toBe(202);
      const done = await get(`${s!.url}/v1/jobs/${r.body.id}?wait=30`);
      expect(done.body.state).toBe('completed');
      return done.body;
    };
    const own = await run({ tenant_id: 'acme', metadata: { user_id: 'end-user-42' } });
    expect(own.request).toMatchObject({ tenant_id: 'acme', metadata: { user_id: 'end-user-42' } });
    expect(own.record.tenant_id).toBe('acme');
    // Control: no user_id of the caller's, the tenant stands in.
    await run({ tenant_id: 'acme' });
    await run({ tenant_id: 'acme', metadata: { user_id: null } });
    expect(served.map((r) => r.userId)).toEqual(['end-user-42', 'acme', 'acme']);
  });
});
