/**
 * The attempt span (the GenAI client span) names the provider that served the call:
 * `gen_ai.provider.name` is `aws.bedrock` for a Bedrock account, `gcp.vertex_ai` for Vertex and
 * `anthropic` for the Anthropic API, each account pointed at its own simulator, the spans exported
 * over OTLP to a receiver in this process. The simulators' own counters say which served each job.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { get, post, startStack } from '../helpers/stack.js';

describe('trace: gen_ai.provider.name of the attempt span', () => {
  const saved = { ...process.env };
  const sims: Record<string, Simulator> = {};
  let rx: OtlpReceiver | undefined;
  afterAll(async () => {
    process.env = saved;
    for (const s of Object.values(sims)) await s.close();
    await rx?.close();
  });

  it('is aws.bedrock, gcp.vertex_ai and anthropic for calls served by each', async () => {
    rx = await startOtlpReceiver();
    const anthropicKey = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
    const awsKeyId = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const vertexToken = `ya29.${randomBytes(24).toString('base64url')}`;
    sims.direct = await startSimulator({ apiKey: anthropicKey, seed: 1 });
    sims.aws = await startSimulator({ apiKey: awsKeyId, seed: 2 });
    sims.gcp = await startSimulator({ apiKey: vertexToken, seed: 3 });
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'promptq-test',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      AWS_ACCESS_KEY_ID: awsKeyId,
      AWS_SECRET_ACCESS_KEY: randomBytes(30).toString('base64url'),
      PQ_TRACE_VERTEX_TOKEN: vertexToken,
      PQ_TRACE_ANTHROPIC_KEY: anthropicKey,
    });
    const file = join(mkdtempSync(join(tmpdir(), 'promptq-trace-')), 'accounts.yaml');
    writeFileSync(
      file,
      `accounts:
  - name: direct
    provider: anthropic
    api_key_env: PQ_TRACE_ANTHROPIC_KEY
    base_url: ${sims.direct.url}
  - name: aws
    provider: bedrock
    region: us-east-1
    base_url: ${sims.aws.url}
  - name: gcp
    provider: vertex
    project: promptq-sim
    region: us-east5
    base_url: ${sims.gcp.url}/v1
    access_token_env: PQ_TRACE_VERTEX_TOKEN
`,
    );
    const s = await startStack({ env: { PROMPTQ_ACCOUNTS: file, PROMPTQ_MAX_ATTEMPTS: '1' } });
    const jobs: Record<string, string> = {};
    for (const name of ['direct', 'aws', 'gcp']) {
      const r = await post(`${s.url}/v1/jobs`, {
        model: 'claude-sonnet-4-5',
        max_tokens: 32,
        prompt: `hello ${name}`,
        account: name,
      });
      expect(r.status).toBe(202);
      jobs[name] = String(r.body.id);
      const done = await get(`${s.url}/v1/jobs/${r.body.id}?wait=20`);
      expect(done.body.state, name).toBe('completed');
    }
    // Closing the service shuts the SDK down, which flushes every span.
    await s.close();
    const expected = { direct: 'anthropic', aws: 'aws.bedrock', gcp: 'gcp.vertex_ai' } as const;
    for (const [name, id] of Object.entries(jobs)) {
      // Each job was served by its account's simulator, and by it alone.
      expect(sims[name]!.stats().succeeded, name).toBe(1);
      const attempts = rx.spans.filter(
        (sp) => sp.attributes['promptq.job.id'] === id && sp.name.startsWith('chat '),
      );
      expect(attempts, name).toHaveLength(1);
      expect(attempts[0]!.attributes['gen_ai.provider.name'], name).toBe(
        expected[name as keyof typeof expected],
      );
    }
  }, 60_000);
});
