/**
 * Google Vertex AI as a provider (`@anthropic-ai/vertex-sdk`): Google OAuth (application default
 * credentials, or a pre-fetched access token named by `access_token_env`), model ids
 * `claude-…@date`, no rate-limit headers — a throttled call is a 429 `RESOURCE_EXHAUSTED`, the quota
 * per model line, learned by the limiter from the outcomes.
 */
import { APIError } from '@anthropic-ai/sdk';
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { OAuth2Client } from 'google-auth-library';
import type { PromptqConfig } from '../../core/config.js';
import { redactUrl } from '../../core/config.js';
import { Logger } from '../../core/log.js';
import { accountFingerprint } from '../account.js';
import type { VertexAccount } from '../accounts.js';
import { PriceTable } from '../anthropic/pricing.js';
import { ModelIds, vertexModelId } from '../model-ids.js';
import { timedFetch } from '../network-timing.js';
import { endpointPricing } from '../provider-pricing.js';
import { SdkProvider } from '../sdk-provider.js';

/** Google's error body `{"error": {"status": "RESOURCE_EXHAUSTED", …}}` → `RESOURCE_EXHAUSTED`. */
export function vertexErrorType(err: unknown): string | undefined {
  if (!(err instanceof APIError)) return undefined;
  const body = err.error as { error?: { status?: unknown } } | undefined;
  const status = body?.error?.status;
  return typeof status === 'string' ? status : undefined;
}

/** An OAuth client holding a token fetched elsewhere: no network, no refresh. */
function tokenClient(token: string, projectId: string): OAuth2Client {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token, expiry_date: Date.now() + 365 * 24 * 3600_000 });
  client.projectId = projectId;
  return client;
}

/** A Vertex account's provider. */
export function vertexProvider(
  account: VertexAccount,
  config: PromptqConfig,
  env: NodeJS.ProcessEnv = process.env,
): SdkProvider {
  const token = account.access_token_env === undefined ? undefined : env[account.access_token_env];
  Logger.redact(token);
  const client = new AnthropicVertex({
    region: account.region,
    projectId: account.project,
    ...(account.base_url ? { baseURL: account.base_url } : {}),
    ...(token ? { authClient: tokenClient(token, account.project) } : {}),
    maxRetries: 0,
    timeout: config.worker.requestTimeoutMs,
    fetch: timedFetch(),
    openTelemetry: false,
  });
  const endpoint = account.base_url
    ? redactUrl(account.base_url, 'PROMPTQ_ACCOUNTS')
    : `${account.region}-aiplatform.googleapis.com`;
  return new SdkProvider({
    name: 'vertex',
    accountName: account.name,
    // Quotas are per project, region and model line.
    account: accountFingerprint(`vertex|${account.project}|${account.region}|${endpoint}`),
    endpoint,
    client,
    models: new ModelIds({ builtIn: vertexModelId, overrides: account.model_ids, served: account.models }),
    prices: endpointPricing(PriceTable.load(config.pricingFile), account.region !== 'global'),
    errorType: vertexErrorType,
  });
}
