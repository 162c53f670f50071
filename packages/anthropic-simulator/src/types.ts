/** The three per-minute limits Anthropic enforces per model group. `0` means unlimited. */
export interface Limits {
  /** Requests per minute. */
  rpm: number;
  /** Input tokens per minute (uncached input plus cache writes; cache reads are free, as in the real API). */
  itpm: number;
  /** Output tokens per minute (charged as `max_tokens` up front, unused part refunded at the end). */
  otpm: number;
}

/** Limits of one model group: the enforced ones, and optionally different ones the headers announce. */
export interface LimitSet extends Limits {
  /**
   * Limits the `anthropic-ratelimit-*` headers announce instead of the enforced ones, e.g. a key
   * shared with another service: the headers show the announced limit minus what this simulator
   * served, while admission uses the (smaller) enforced buckets. Missing fields fall back to the
   * enforced value; `null` announces the enforced limits.
   */
  announced: Partial<Limits> | null;
}

/** An error response queued with {@link Simulator.script}. */
export interface ScriptedStatusFault {
  status: 429 | 500 | 529 | 400 | 401 | 403 | 404 | 413;
  /** Error type in the body; defaults to the real API's type for the status. */
  type?: string;
  /** Sent as `error.details.error_code` (the SDK exposes it as `errorCode`), e.g. `enforced_spend_limit_reached`. */
  errorCode?: string;
  /** Error message; defaults to a realistic one for the status. */
  message?: string;
  /** `retry-after` header in seconds; omitted when not given. */
  retryAfter?: number;
}

/** One deterministic outcome for the next `POST /v1/messages`, consumed in FIFO order. */
export type ScriptedFault =
  | ScriptedStatusFault
  /** Destroy the socket without any response. */
  | { drop: true }
  /** Never respond (until the client gives up or the simulator closes). */
  | { hang: true }
  /** 200, some deltas, then an SSE `overloaded_error` (a 529 for non-streaming requests). */
  | { midstreamError: true }
  /**
   * Succeed regardless of random faults and rate limits (the buckets are still charged, so the
   * following requests see the cost). `outputTokens` fixes the length, `delayMs` adds latency.
   */
  | { ok: true; outputTokens?: number; delayMs?: number };

/** Why a request was refused with 429. */
export interface RateLimitedCounts {
  total: number;
  /** Per-minute token buckets (the ones the headers describe). */
  bucket: number;
  /** The hidden short-interval guard. */
  shortInterval: number;
  /** Scripted 429s. */
  scripted: number;
}

/** Ground-truth counters, for the whole simulator or one model group. */
export interface SimulatorCounters {
  /** `POST /v1/messages` requests received. */
  requests: number;
  /** Responses by HTTP status (drops and hangs have none). */
  byStatus: Record<string, number>;
  /** Messages delivered completely (200 and, for streams, `message_stop` sent). */
  succeeded: number;
  rateLimited: RateLimitedCounts;
  /** 529 responses (random or scripted). */
  overloaded: number;
  /** 500 responses (random or scripted). */
  apiErrors: number;
  /** Streams (or admitted non-streaming calls) that ended with an overloaded error after admission. */
  midstreamErrors: number;
  /** Connections destroyed without a response. */
  drops: number;
  /** Requests that were never answered. */
  hangs: number;
  /** Requests being worked on now, and the most at once. */
  inFlight: number;
  peakInFlight: number;
  /** Uncached input tokens of admitted requests. */
  inputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  /** Output tokens actually sent. */
  outputTokens: number;
  /** Clock readings (ms since epoch, the simulator's `now`) of the first and last completed message. */
  firstSuccessAt: number | null;
  lastSuccessAt: number | null;
}

/** Per-group counters plus the limits currently in force for that group. */
export interface GroupStats extends SimulatorCounters {
  limits: LimitSet;
}

/** What `stats()` and `GET /__stats` return. */
export interface SimulatorStats extends SimulatorCounters {
  /** `POST /v1/messages/count_tokens` requests. */
  countTokensRequests: number;
  /** Limits new groups start with. */
  defaultLimits: LimitSet;
  /** Short-interval guard window in seconds (0 = off). */
  shortIntervalSeconds: number;
  groups: Record<string, GroupStats>;
}

/** One `POST /v1/messages` that reached the rate limits, reported to `onArrival` admitted or not. */
export interface Arrival {
  group: string;
  /** The simulator's clock when the limits were checked. */
  at: number;
  /** What the request counts toward ITPM (uncached input and cache writes) and OTPM (`max_tokens`). */
  inputTokens: number;
  maxTokens: number;
  /** `false`: answered 429. */
  admitted: boolean;
}

/** One admitted `POST /v1/messages`, reported to `onServed` when its delivery ends. */
export interface ServedResponse {
  /** The `request-id` header (and error `request_id`) sent to the client. */
  requestId: string;
  /** `id` of the message (`msg_…`). */
  messageId: string;
  model: string;
  group: string;
  stream: boolean;
  /** `metadata.user_id` of the request, or null. */
  userId: string | null;
  maxTokens: number;
  /** `completed`: full message delivered; `midstream`: ended with an overloaded error; `aborted`: client left. */
  outcome: 'completed' | 'midstream' | 'aborted';
  /** The usage as reported to the client (`output_tokens` = tokens actually sent). */
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
  };
  stopReason: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | null;
  /** The message's content blocks, as a non-streaming answer carries them. */
  content: unknown[];
  /** `usage.cache_creation` and `usage.server_tool_use` as reported. */
  cacheCreation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  serverToolUse: { web_search_requests: number } | null;
  /** `usage.service_tier` as reported. */
  serviceTier: 'standard' | 'priority';
  /** Clock readings (the simulator's `now`) when the request was admitted and when delivery ended. */
  admittedAt: number;
  finishedAt: number;
}
