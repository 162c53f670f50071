/**
 * The official Bedrock and Vertex SDKs, unchanged, against the simulator's Bedrock and Vertex
 * routes: SigV4-signed invoke and invoke-with-response-stream (AWS event-stream framing, decoded
 * by the SDK's own smithy codec), rawPredict/streamRawPredict with an OAuth token, and each
 * provider's throttling answer (no rate-limit headers).
 */
import { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';
import { type APIError, RateLimitError } from '@anthropic-ai/sdk';
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { OAuth2Client } from 'google-auth-library';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  estimateSimTokens,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';

const awsKeyId = 'AKIASIMULATORTEST01';
const ask = { max_tokens: 300, messages: [{ role: 'user' as const, content: 'Tell me about queues.' }] };

async function thrown(fn: () => Promise<unknown>): Promise<APIError> {
  try {
    await fn();
  } catch (err) {
    return err as APIError;
  }
  throw new Error('expected an error');
}

function bedrock(sim: Simulator, accessKey = awsKeyId): AnthropicBedrock {
  return new AnthropicBedrock({
    awsRegion: 'us-east-1',
    awsAccessKey: accessKey,
    awsSecretKey: 'simulator-secret-key-not-checked',
    baseURL: sim.url,
    maxRetries: 0,
  });
}

describe('@anthropic-ai/bedrock-sdk against the simulator', () => {
  let sim: Simulator;
  beforeEach(async () => {
    sim = await startSimulator({ apiKey: awsKeyId, seed: 3, bedrockTpm: 2000 });
  });
  afterEach(async () => {
    await sim.close();
  });

  it('invoke answers a message, signed with SigV4, with no rate-limit headers', async () => {
    const { data, response } = await bedrock(sim)
      .messages.create({ ...ask, model: 'anthropic.claude-sonnet-4-5-20250929-v1:0' })
      .withResponse();
    expect(data.type).toBe('message');
    expect(data.content[0]?.type).toBe('text');
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    expect([...response.headers.keys()].filter((h) => h.startsWith('anthropic-ratelimit'))).toEqual([]);
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^req_/);
  });

  it('invoke-with-response-stream streams AWS event-stream frames the SDK folds into the message', async () => {
    const stream = bedrock(sim).messages.stream({
      ...ask,
      model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
    });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    // (The SDK decodes the frames with its smithy codec, checksums included, into SSE for the helper.)
    const message = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types).toContain('content_block_delta');
    expect(types.at(-1)).toBe('message_stop');
    expect(message.usage.output_tokens).toBe(sim.stats().outputTokens);
  });

  it('a request signed with another access key is refused (403)', async () => {
    const err = await thrown(() =>
      bedrock(sim, 'AKIAOTHERKEY0000000').messages.create({
        ...ask,
        model: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
      }),
    );
    expect(err.status).toBe(403);
    expect(err.headers?.get('x-amzn-errortype')).toMatch(/^AccessDeniedException:/);
  });

  it('past the combined tokens-per-minute quota (input + max_tokens at the start): 429 ThrottlingException, no headers', async () => {
    const client = bedrock(sim);
    const model = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
    // Three at once: each reserves its input and all 700 max_tokens of the 2000-token minute at the
    // start, though none will write more than 400 (the simulator's cap): the third does not fit.
    const calls = await Promise.allSettled(
      [1, 2, 3].map(() => client.messages.create({ ...ask, max_tokens: 700, model })),
    );
    expect(calls.filter((c) => c.status === 'fulfilled')).toHaveLength(2);
    const err = (calls.find((c) => c.status === 'rejected') as PromiseRejectedResult).reason as APIError;
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.headers?.get('x-amzn-errortype')).toMatch(/^ThrottlingException:/);
    expect(err.headers?.get('retry-after')).toBeNull();
    expect([...(err.headers?.keys() ?? [])].filter((h) => h.startsWith('anthropic-ratelimit'))).toEqual([]);
    expect(sim.stats().rateLimited.total).toBe(1);
    // The unused output was given back: one more fits now (2000 − 2 × (input + output) ≥ 710).
    await expect(client.messages.create({ ...ask, max_tokens: 700, model })).resolves.toMatchObject({
      type: 'message',
    });
  });

  it('the quota at its exact boundary: input + max_tokens = 2000 fits, 2001 is throttled', async () => {
    const client = bedrock(sim);
    const model = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
    const input = estimateSimTokens({ messages: ask.messages });
    await expect(client.messages.create({ ...ask, max_tokens: 2000 - input, model })).resolves.toMatchObject({
      type: 'message',
    });
    sim.reset();
    const err = await thrown(() => client.messages.create({ ...ask, max_tokens: 2001 - input, model }));
    expect(err.status).toBe(429);
  });
});

describe('@anthropic-ai/vertex-sdk against the simulator', () => {
  let sim: Simulator;
  const token = 'ya29.simulator-access-token';
  beforeEach(async () => {
    sim = await startSimulator({ apiKey: token, seed: 5, limits: { rpm: 2 } });
  });
  afterEach(async () => {
    await sim.close();
  });

  function vertex(accessToken = token): AnthropicVertex {
    const authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: accessToken, expiry_date: Date.now() + 3600_000 });
    return new AnthropicVertex({
      region: 'us-east5',
      projectId: 'promptq-sim',
      baseURL: `${sim.url}/v1`,
      authClient,
      maxRetries: 0,
    });
  }

  it('rawPredict and streamRawPredict answer with the model in the path and anthropic_version in the body', async () => {
    const message = await vertex().messages.create({ ...ask, model: 'claude-sonnet-4-5@20250929' });
    expect(message.type).toBe('message');
    const streamed = await vertex()
      .messages.stream({ ...ask, model: 'claude-sonnet-4-5@20250929' })
      .finalMessage();
    expect(streamed.content[0]?.type).toBe('text');
    expect(sim.stats().succeeded).toBe(2);
  });

  it('a wrong token is refused (401 UNAUTHENTICATED)', async () => {
    const err = await thrown(() =>
      vertex('ya29.wrong').messages.create({ ...ask, model: 'claude-sonnet-4-5@20250929' }),
    );
    expect(err.status).toBe(401);
    expect((err.error as { error?: { status?: string } }).error?.status).toBe('UNAUTHENTICATED');
  });

  it('past the quota: 429 RESOURCE_EXHAUSTED with no rate-limit headers', async () => {
    const client = vertex();
    await client.messages.create({ ...ask, model: 'claude-sonnet-4-5@20250929' });
    await client.messages.create({ ...ask, model: 'claude-sonnet-4-5@20250929' });
    const err = await thrown(() => client.messages.create({ ...ask, model: 'claude-sonnet-4-5@20250929' }));
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err.error as { error?: { status?: string } }).error?.status).toBe('RESOURCE_EXHAUSTED');
    expect(
      [...(err.headers?.keys() ?? [])].filter(
        (h) => h.startsWith('anthropic-ratelimit') || h === 'retry-after',
      ),
    ).toEqual([]);
  });
});
