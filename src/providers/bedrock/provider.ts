/**
 * Amazon Bedrock as a provider (`@anthropic-ai/bedrock-sdk`): requests signed with AWS SigV4 from the
 * standard credential chain (environment, profile, role), model ids `anthropic.claude-…` (or an
 * inference profile), no rate-limit headers — a throttled call is a 429 `ThrottlingException`, and
 * the limiter learns the account's per-model quota from the outcomes.
 */
import { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';
import { APIError } from '@anthropic-ai/sdk';
import type { PromptqConfig } from '../../core/config.js';
import { redactUrl } from '../../core/config.js';
import { accountFingerprint } from '../account.js';
import type { BedrockAccount } from '../accounts.js';
import { PriceTable } from '../anthropic/pricing.js';
import { bedrockModelId, ModelIds } from '../model-ids.js';
import { timedFetch } from '../network-timing.js';
import type { Decision } from '../provider.js';
import { endpointPricing } from '../provider-pricing.js';
import { SdkProvider } from '../sdk-provider.js';

/** A Bedrock stream's exception frames (camel-cased by the SDK) → promptq's classes. */
const streamExceptions: Readonly<Record<string, Pick<Decision, 'outcome' | 'reason'>>> = {
  throttlingException: { outcome: 'rate_limited', reason: 'rate_limited' },
  serviceUnavailableException: { outcome: 'overloaded', reason: 'overloaded' },
  modelStreamErrorException: { outcome: 'server_error', reason: 'server_error' },
  internalServerException: { outcome: 'server_error', reason: 'server_error' },
  modelTimeoutException: { outcome: 'timeout', reason: 'timeout' },
};

/** `x-amzn-errortype: ThrottlingException:http://…` → `ThrottlingException`. */
export function bedrockErrorType(err: unknown): string | undefined {
  if (!(err instanceof APIError)) return undefined;
  const header = (err.headers as Headers | undefined)?.get('x-amzn-errortype');
  if (header) return header.split(':')[0];
  return undefined;
}

function refine(decision: Decision): Decision {
  if (decision.statusCode !== null) return decision;
  const row = Object.hasOwn(streamExceptions, decision.errorType)
    ? streamExceptions[decision.errorType]
    : undefined;
  return row === undefined ? decision : { ...decision, ...row, retry: true };
}

/** A Bedrock account's provider. */
export function bedrockProvider(account: BedrockAccount, config: PromptqConfig): SdkProvider {
  const client = new AnthropicBedrock({
    awsRegion: account.region,
    ...(account.base_url ? { baseURL: account.base_url } : {}),
    maxRetries: 0,
    timeout: config.worker.requestTimeoutMs,
    fetch: timedFetch(),
    openTelemetry: false,
  });
  const endpoint = account.base_url
    ? redactUrl(account.base_url, 'PROMPTQ_ACCOUNTS')
    : `bedrock-runtime.${account.region}.amazonaws.com`;
  return new SdkProvider({
    name: 'bedrock',
    accountName: account.name,
    // Quotas are per AWS account and region; the credentials are not in the file, so the account's
    // name, region and endpoint say which quota it draws from.
    account: accountFingerprint(`bedrock|${account.name}|${account.region}|${endpoint}`),
    endpoint,
    client,
    models: new ModelIds({
      builtIn: bedrockModelId,
      overrides: account.model_ids,
      served: account.models,
      prefix: account.inference_profile,
    }),
    // The global inference profile is priced as the API; any other endpoint is regional.
    prices: endpointPricing(PriceTable.load(config.pricingFile), account.inference_profile !== 'global'),
    errorType: bedrockErrorType,
    refine,
    // Fast mode runs on the Claude API and Google Cloud, not on Bedrock (the fast mode page's platforms).
    fastMode: false,
  });
}
