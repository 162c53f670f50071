import { describe, expect, it } from 'vitest';
import { type JobRequest, promptqFields } from '../../../src/core/job.js';
import { batchParams } from '../../../src/providers/anthropic/batches.js';

describe('batchParams: what a batch request sends the API', () => {
  it("sends the Messages parameters and none of promptq's own fields (as a live call)", () => {
    const request = {
      model: 'claude-haiku-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.5,
      tenant_id: 'acme',
      fallback_models: ['claude-sonnet-4-5'],
      betas: ['some-beta'],
      webhook: { url: 'https://example.com/hook' },
      account: ['a', 'b'],
      account_fallback: true,
      deadline: '2026-12-08T00:00:00Z',
      route: 'batch',
    } as unknown as JobRequest;
    const params = batchParams(request) as unknown as Record<string, unknown>;
    expect(Object.keys(params).sort()).toEqual(['max_tokens', 'messages', 'model', 'temperature']);
    for (const field of promptqFields) expect(params, field).not.toHaveProperty(field);
    // The request itself is left as it was.
    expect(request).toHaveProperty('fallback_models');
  });
});
