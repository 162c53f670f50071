/**
 * Amazon Bedrock's and Google Vertex AI's routes for Claude, served by the same simulated model
 * (messages-handler.ts) so that faults, scripts, prompt caching and the counters are the same:
 *
 * - Bedrock runtime: `POST /model/{modelId}/invoke` and `…/invoke-with-response-stream`, SigV4-signed
 *   (`authorization: AWS4-HMAC-SHA256 Credential=…`, `x-amz-date`), `anthropic_version` in the body.
 *   Its quota is one tokens-per-minute bucket per model of input plus `max_tokens`, reserved at the
 *   start (`bedrockTpm`; unused output given back at the end); past it a 429 `ThrottlingException`.
 * - Vertex AI: `POST …/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict`
 *   and `:streamRawPredict`, an OAuth bearer token, `anthropic_version` in the body; a 429 is
 *   `RESOURCE_EXHAUSTED`.
 *
 * Neither sends rate-limit headers (provider-wire.ts rewrites the answer).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { SimContext } from './context.js';
import { parseJson, readBody } from './http-util.js';
import { handleMessages } from './messages-handler.js';
import { adaptResponse, type Dialect, sendProviderError } from './provider-wire.js';
import {
  type BucketSpec,
  type BucketState,
  bucketSpec,
  fullBucket,
  give,
  take,
  tryTake,
} from './token-bucket.js';
import { estimateSimTokens } from './tokenizer.js';
import { validateMessagesRequest } from './validate-request.js';

const bedrockRoute = /\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/;
const vertexRoute =
  /\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/;
const sigV4 =
  /^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]+)\/\d{8}\/[a-z0-9-]+\/bedrock\/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}$/;
/** `anthropic_version` in the body: the provider's own (`bedrock-2023-05-31`, `vertex-2023-10-16`) or an API version date. */
const versionPattern: Record<Dialect, RegExp> = {
  bedrock: /^(bedrock-)?\d{4}-\d{2}-\d{2}$/,
  vertex: /^(vertex-)?\d{4}-\d{2}-\d{2}$/,
};

/** Bedrock's combined tokens-per-minute buckets, per simulator and model group. */
const quotas = new WeakMap<SimContext, Map<string, { spec: BucketSpec; state: BucketState }>>();

/** Refill Bedrock's buckets (the simulator's `reset`). */
export function resetProviderQuotas(ctx: SimContext): void {
  quotas.delete(ctx);
}

/** The Anthropic model of a Bedrock id (`us.anthropic.claude-sonnet-4-5-20250929-v1:0`) or Vertex id (`claude-…@date`). */
export function anthropicModelOf(dialect: Dialect, id: string): string | undefined {
  const model =
    dialect === 'bedrock'
      ? /^(?:[a-z]{2,10}\.)?anthropic\.(claude-[a-z0-9-]+?)(?:-v\d+(?::\d+)?)?$/.exec(id)?.[1]
      : /^(claude-[a-z0-9-]+?)(?:@(\d{8}))?$/.exec(id)?.slice(1).filter(Boolean).join('-');
  return model;
}

/** Serves a Bedrock or Vertex route; `false` when the path is neither. */
export async function handleProviderRoutes(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  requestId: string,
): Promise<boolean> {
  const bedrock = bedrockRoute.exec(path);
  const vertex = bedrock ? null : vertexRoute.exec(path);
  const match = bedrock ?? vertex;
  if (!match || req.method !== 'POST') return false;
  const dialect: Dialect = bedrock ? 'bedrock' : 'vertex';
  const fail = (status: number, message: string) => {
    req.resume();
    sendProviderError(res, dialect, status, message, requestId);
    return true;
  };
  const denied = checkAuth(ctx, req, dialect);
  if (denied) return fail(dialect === 'bedrock' ? 403 : 401, denied);
  const model = anthropicModelOf(dialect, decodeURIComponent(match[1] ?? ''));
  if (model === undefined) return fail(400, 'The provided model identifier is invalid.');
  const { body, tooLarge } = await readBody(req, ctx.opts.maxBodyBytes);
  if (tooLarge) return fail(413, 'Input is too long for requested model.');
  const json = parseJson(body);
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return fail(400, 'Malformed input request, please reformat your input and try again.');
  const {
    anthropic_version: version,
    anthropic_beta: _beta,
    model: _model,
    ...rest
  } = json as Record<string, unknown>;
  if (typeof version !== 'string' || !versionPattern[dialect].test(version)) {
    return fail(400, 'anthropic_version: a required field of the body is missing or invalid');
  }
  const stream = bedrock ? match[2] === 'invoke-with-response-stream' : match[2] === 'streamRawPredict';
  if (vertex && (rest.stream === true) !== stream)
    return fail(400, `stream must be ${stream} for ${match[2]}`);
  const inner: Record<string, unknown> = { ...rest, model, stream };
  const reserved = dialect === 'bedrock' ? reserveTokens(ctx, inner) : 0;
  if (reserved < 0) {
    const group = ctx.opts.groupOf(model);
    ctx.stats.record(group, (c) => {
      c.requests++;
      c.rateLimited.total++;
      c.rateLimited.bucket++;
    });
    ctx.stats.status(group, 429);
    return fail(429, 'Too many tokens, please wait before trying again.');
  }
  adaptResponse(res, dialect, ({ status, outputTokens }) => {
    if (reserved === 0) return;
    const maxTokens = typeof inner.max_tokens === 'number' ? inner.max_tokens : 0;
    // Not served: nothing used. Served: the output not produced is given back.
    refund(ctx, model, status >= 400 ? reserved : Math.max(0, maxTokens - (outputTokens ?? maxTokens)));
  });
  await handleMessages(ctx, innerRequest(req, inner, ctx.opts.apiKey), res, requestId);
  return true;
}

/** The credentials' complaint, or `undefined`; with `apiKey` set, the AWS access key id or the OAuth token must be it. */
function checkAuth(ctx: SimContext, req: IncomingMessage, dialect: Dialect): string | undefined {
  const auth = req.headers.authorization ?? '';
  const expected = ctx.opts.apiKey;
  if (dialect === 'bedrock') {
    const m = sigV4.exec(auth);
    if (!m || !/^\d{8}T\d{6}Z$/.test(String(req.headers['x-amz-date'] ?? ''))) {
      return 'Missing Authentication Token: the request must be signed with AWS Signature Version 4.';
    }
    if (expected !== undefined && m[1] !== expected)
      return 'The security token included in the request is invalid.';
    return undefined;
  }
  const token = /^Bearer\s+(\S+)$/.exec(auth)?.[1];
  if (token === undefined)
    return 'Request is missing required authentication credential. Expected OAuth 2 access token.';
  if (expected !== undefined && token !== expected) return 'Request had invalid authentication credentials.';
  return undefined;
}

/**
 * Reserve input + `max_tokens` against the model group's combined bucket: the tokens reserved
 * (0: no quota set, or a body the model will refuse anyway), or -1 when throttled.
 */
function reserveTokens(ctx: SimContext, body: Record<string, unknown>): number {
  const tpm = ctx.opts.bedrockTpm;
  if (tpm <= 0) return 0;
  const validated = validateMessagesRequest(body, ctx.opts.maxOutputTokens);
  if (!validated.ok) return 0;
  const cost = estimateSimTokens(validated.value.input) + validated.value.maxTokens;
  const bucket = bucketOf(ctx, ctx.opts.groupOf(validated.value.model), tpm);
  const now = ctx.opts.now();
  const taken = tryTake(bucket.state, bucket.spec, cost, now);
  if (!taken.ok) return -1;
  bucket.state = taken.state;
  return cost;
}

function refund(ctx: SimContext, model: string, tokens: number): void {
  if (tokens <= 0) return;
  const bucket = bucketOf(ctx, ctx.opts.groupOf(model), ctx.opts.bedrockTpm);
  bucket.state = give(bucket.state, bucket.spec, tokens, ctx.opts.now());
}

function bucketOf(ctx: SimContext, group: string, tpm: number): { spec: BucketSpec; state: BucketState } {
  let groups = quotas.get(ctx);
  if (!groups) {
    groups = new Map();
    quotas.set(ctx, groups);
  }
  let bucket = groups.get(group);
  if (!bucket) {
    const spec = bucketSpec(tpm);
    const now = ctx.opts.now();
    bucket = {
      spec,
      state: ctx.opts.startEmpty ? take(fullBucket(spec, now), spec, tpm, now) : fullBucket(spec, now),
    };
    groups.set(group, bucket);
  }
  return bucket;
}

/** The Messages API request the simulated model answers: the body as Anthropic takes it. */
function innerRequest(
  req: IncomingMessage,
  body: Record<string, unknown>,
  apiKey: string | undefined,
): IncomingMessage {
  const inner = Readable.from([Buffer.from(JSON.stringify(body), 'utf8')]);
  return Object.assign(inner, {
    method: 'POST',
    url: '/v1/messages',
    socket: req.socket,
    headers: {
      'x-api-key': apiKey ?? 'provider-route',
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
  }) as unknown as IncomingMessage;
}
