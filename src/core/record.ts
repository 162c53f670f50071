/** The per-job record (docs/reference/record.md): what every job keeps, whatever its outcome. */
import type { JobRequest } from './job.js';

/** The price of one call, part by part, in USD (docs/reference/record.md). */
export interface CostParts {
  input: number;
  output: number;
  cache_write_5m: number;
  cache_write_1h: number;
  cache_read: number;
  /** Server tools billed per use (web search per request). */
  server_tools: number;
  /** The long-context tier applied (input over the model's threshold). */
  long_context: boolean;
  /** The service tier the API reported (`standard`, `priority`, `batch`). */
  service_tier: string;
  /** The Message Batches discount applied. */
  batch: boolean;
}

/** A call's usage as the API reports it (the SDK's `Usage`; the breakdowns are optional). */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number } | null;
  server_tool_use?: { web_search_requests?: number; web_fetch_requests?: number } | null;
  service_tier?: string | null;
  /** `fast` when fast mode served the call (`standard`, or absent, otherwise). */
  speed?: string | null;
}

/** How a job reached the API: a live call, or a request in a Message Batch (docs/cost.md). */
export type Route = 'live' | 'batch';

/** The per-job record (docs/reference/record.md). */
export interface JobRecord {
  enqueued_at: string;
  started_at: string | null;
  finished_at: string | null;
  model: string;
  tenant_id: string | null;
  max_tokens: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  /** `cache_creation_input_tokens` by lifetime (from `usage.cache_creation`). */
  cache_creation_5m_input_tokens: number;
  cache_creation_1h_input_tokens: number;
  /** Server-tool uses billed per request (`usage.server_tool_use`). */
  web_search_requests: number;
  web_fetch_requests: number;
  service_tier: string | null;
  /** The speed that served the call (`usage.speed`: `standard`, `fast`). */
  speed: string | null;
  stop_reason: string | null;
  /** The model that answered (a fallback model when `fallback_reason` is set). */
  served_model: string | null;
  /** Why the job moved to a fallback model: `overloaded` or `not_found`; `null` when it did not. */
  fallback_reason: string | null;
  /** Overloaded answers in a row from the model tried last (resets on any other answer). */
  overloaded_in_a_row: number;
  queue_wait_ms: number | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  total_ms: number | null;
  /** Connection set-up (DNS+TCP+TLS) of the successful call; 0 on a kept-alive connection. */
  connect_ms: number | null;
  /** Request headers sent → response headers in (network round trip + API queueing). */
  ttfb_ms: number | null;
  attempts: number;
  /** Retries by reason (`rate_limited`, `overloaded`, `server_error`, `network_error`, `timeout`). */
  retries: Record<string, number>;
  rate_limited: number;
  status_code: number | null;
  error_type: string | null;
  request_id: string | null;
  /** The provider of the account that served the last attempt (`anthropic`, `bedrock`, `vertex`, `gateway`). */
  provider: string | null;
  /** That account's name (accounts file; `default` without one). */
  account: string | null;
  /** `null` when the model has no known price: never guessed. */
  cost_usd: number | null;
  cost: CostParts | null;
  /** `live` or `batch`: the route that ran the job (its last attempt). */
  route: Route;
  /**
   * What the Batches discount and cache reads saved against the same tokens sent live without
   * caching (USD; a cache write dearer than the reads it served makes `cache` negative). `null`
   * when unpriced or unanswered.
   */
  savings: { batch_usd: number; cache_usd: number } | null;
}

/** A fresh record for a job enqueued at `enqueuedAt` (ms). */
export function newRecord(request: JobRequest, enqueuedAt: number): JobRecord {
  return {
    enqueued_at: new Date(enqueuedAt).toISOString(),
    started_at: null,
    finished_at: null,
    model: request.model,
    tenant_id: request.tenant_id ?? null,
    max_tokens: request.max_tokens,
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation_5m_input_tokens: 0,
    cache_creation_1h_input_tokens: 0,
    web_search_requests: 0,
    web_fetch_requests: 0,
    service_tier: null,
    speed: null,
    stop_reason: null,
    served_model: null,
    fallback_reason: null,
    overloaded_in_a_row: 0,
    queue_wait_ms: null,
    latency_ms: null,
    ttft_ms: null,
    total_ms: null,
    connect_ms: null,
    ttfb_ms: null,
    attempts: 0,
    retries: {},
    rate_limited: 0,
    status_code: null,
    error_type: null,
    request_id: null,
    provider: null,
    account: null,
    cost_usd: 0,
    cost: null,
    route: 'live',
    savings: null,
  };
}

/** A price list as {@link savingsOf} uses it (providers/provider.ts `Pricing.priceCall`). */
type PriceCall = (usage: Usage, model: string, options?: { batch?: boolean }) => { total: number } | null;

/**
 * What a call that cost `cost` saved: against the same usage sent live (no Batches discount), and
 * that against the same tokens sent live with no cache (every cached token plain input).
 */
export function savingsOf(
  priceCall: PriceCall,
  usage: Usage,
  model: string,
  cost: number,
): JobRecord['savings'] {
  const tier = usage.service_tier === 'batch' || !usage.service_tier ? 'standard' : usage.service_tier;
  const live = priceCall({ ...usage, service_tier: tier }, model, { batch: false });
  const uncached = priceCall(
    {
      input_tokens:
        usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0),
      output_tokens: usage.output_tokens,
      server_tool_use: usage.server_tool_use ?? null,
      service_tier: tier,
      speed: usage.speed ?? null,
    },
    model,
    { batch: false },
  );
  if (!live || !uncached) return null;
  const round = (v: number) => Math.round(v * 1e9) / 1e9;
  return { batch_usd: round(live.total - cost), cache_usd: round(uncached.total - live.total) };
}

/**
 * An answer's usage, stop reason and model into the record: the one place both routes (the worker's
 * live call, a Message Batches result) fill these fields, so their records cannot drift apart.
 */
export function recordAnswer(
  record: JobRecord,
  message: { usage: Usage; stop_reason?: string | null },
  model: string,
): void {
  const usage = message.usage;
  record.input_tokens = usage.input_tokens;
  record.output_tokens = usage.output_tokens;
  record.cache_creation_input_tokens = usage.cache_creation_input_tokens ?? 0;
  record.cache_read_input_tokens = usage.cache_read_input_tokens ?? 0;
  // Without the breakdown (older API versions) every cache write was a 5-minute one.
  record.cache_creation_5m_input_tokens = usage.cache_creation
    ? (usage.cache_creation.ephemeral_5m_input_tokens ?? 0)
    : record.cache_creation_input_tokens;
  record.cache_creation_1h_input_tokens = usage.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  record.web_search_requests = usage.server_tool_use?.web_search_requests ?? 0;
  record.web_fetch_requests = usage.server_tool_use?.web_fetch_requests ?? 0;
  record.service_tier = usage.service_tier ?? null;
  record.speed = usage.speed ?? null;
  record.stop_reason = message.stop_reason ?? null;
  record.served_model = model;
}
