/**
 * What promptq can be told: the shape of the resolved configuration, one slice per component, every
 * setting with its default, its range and (where one sets it) its environment variable.
 *
 * - The values of the defaults are {@link defaults} (defaults.ts), and nowhere else.
 * - `resolveConfig` (config.ts) merges what a caller gives over them and checks each value against
 *   its range, once; `loadConfig` reads the environment (env.ts lists the variables) into the same.
 * - Components take the slice they need (`config.worker`, `config.limiter`, `config.http`, …), never
 *   a copy of its fields.
 *
 * A `@defaultValue` below is checked against `defaults` by test/core/config-defaults.test.ts. The
 * worker's and the limiter's slices are in settings-worker.ts.
 */
import type { RedisMode } from './redis-url.js';
import type { LimiterConfig, WorkerConfig } from './settings-worker.js';

export type {
  AdaptiveConcurrency,
  BackoffPolicy,
  BudgetWaitPolicy,
  LimitCeilings,
  LimiterConfig,
  LimiterTuning,
  WorkerConfig,
} from './settings-worker.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The resolved configuration of a promptq process or library user: every field has its value. */
export interface PromptqConfig {
  /**
   * The queue's name (`PROMPTQ_QUEUE`): 1-100 characters from `A-Z a-z 0-9 _ . -`.
   * @defaultValue `prompts`
   */
  readonly queue: string;
  /**
   * BullMQ's key prefix: every key of the queue starts with it (store/keys.ts). No `{`: on a
   * cluster the hash tag is added to it.
   * @defaultValue `bull`
   */
  readonly prefix: string;
  /** A JSON price list that replaces or extends the built-in one (`PROMPTQ_PRICING_FILE`). @defaultValue `undefined` */
  readonly pricingFile: string | undefined;
  /**
   * An accounts file (`PROMPTQ_ACCOUNTS`, JSON or YAML): the accounts of every provider the worker
   * calls (providers/accounts.ts). `undefined`: one `anthropic` account from `anthropic`.
   * @defaultValue `undefined`
   */
  readonly accountsFile: string | undefined;
  readonly redis: RedisConfig;
  readonly anthropic: AnthropicConfig;
  readonly http: HttpConfig;
  readonly waiters: WaitersConfig;
  readonly jobs: JobsConfig;
  readonly worker: WorkerConfig;
  readonly limiter: LimiterConfig;
  readonly log: LogConfig;
  readonly observers: ObserversConfig;
  readonly labels: LabelsConfig;
  readonly rollups: RollupsConfig;
  readonly backfill: BackfillConfig;
  readonly webhooks: WebhooksConfig;
  readonly streams: StreamsConfig;
  readonly routing: RoutingConfig;
}

/** Where Redis is (store/connection.ts). */
export interface RedisConfig {
  /**
   * `redis[s]://[user:pass@]host:port[/db]` (`REDIS_URL`); with `mode` `cluster` or `sentinel`,
   * several hosts: `redis://host:7000,host:7001`.
   * @defaultValue `redis://127.0.0.1:6379`
   */
  readonly url: string;
  /**
   * One endpoint, Redis Cluster seed nodes, or sentinels (`PROMPTQ_REDIS_MODE`). On a cluster every
   * key is hash-tagged per queue and per limiter group.
   * @defaultValue `single`
   */
  readonly mode: RedisMode;
  /** The master's name; required with `mode: 'sentinel'`, refused otherwise (`PROMPTQ_REDIS_SENTINEL_NAME`). @defaultValue `undefined` */
  readonly sentinelName: string | undefined;
  /**
   * How long an enqueue waits for Redis (a Sentinel or Cluster failover, a restart) before it
   * answers `503` with `Retry-After` (`PROMPTQ_ENQUEUE_TIMEOUT_MS`), 100-600,000: a few seconds past a
   * typical promotion (down-after 5 s + election).
   * @defaultValue `10000`
   */
  readonly enqueueTimeoutMs: number;
  /**
   * Longest any other API request waits for Redis during an outage before it answers `503` with
   * `Retry-After` (`PROMPTQ_REDIS_TIMEOUT_MS`), 100-600,000; a `?wait=` long poll waits for its job as
   * long as it asks, but not for Redis.
   * @defaultValue `2000`
   */
  readonly requestDeadlineMs: number;
}

/** The Anthropic API (providers/anthropic/client.ts). */
export interface AnthropicConfig {
  /** The real API key (`ANTHROPIC_API_KEY`); `undefined`: the built-in simulator answers. Never logged. @defaultValue `undefined` */
  readonly apiKey: string | undefined;
  /**
   * Another Anthropic-compatible endpoint (`ANTHROPIC_BASE_URL`), `http(s)://…` without a user or
   * password; `undefined`: the SDK's default.
   * @defaultValue `undefined`
   */
  readonly baseUrl: string | undefined;
}

/** The HTTP API, Bull Board, the dashboard and /metrics (ops/http/app.ts). */
export interface HttpConfig {
  /** Listen address (`HOST`); beyond loopback only with `authToken`. @defaultValue `127.0.0.1` */
  readonly host: string;
  /** Listen port, 0-65535 (`PORT`; 0: any free port). @defaultValue `3000` */
  readonly port: number;
  /**
   * Bearer token of the API, Bull Board, the dashboard and /metrics, at least 16 characters
   * (`PROMPTQ_AUTH_TOKEN`); required when `host` is not loopback.
   * @defaultValue `undefined`
   */
  readonly authToken: string | undefined;
  /** A token, at least 16 characters, that opens `/metrics` only (`PROMPTQ_METRICS_TOKEN`). @defaultValue `undefined` */
  readonly metricsToken: string | undefined;
  /** Bull Board without retry, remove, clean, pause and add (`PROMPTQ_BOARD_READ_ONLY`). @defaultValue `false` */
  readonly boardReadOnly: boolean;
  /** Largest JSON body, in express's notation (`'512kb'`, `'10mb'`). @defaultValue `4mb` */
  readonly bodyLimit: string;
  /** Longest `GET /v1/jobs/:id?wait=S`, in seconds. @defaultValue `300` */
  readonly maxWaitSeconds: number;
  /** `/readyz` answers 503 when Redis (and the queue's keys) do not answer within this. @defaultValue `1000` */
  readonly readyTimeoutMs: number;
  /**
   * A connection must send a request's headers within this, 100-300,000 ms
   * (`PROMPTQ_HTTP_HEADERS_TIMEOUT_MS`), else it is closed (slowloris). @defaultValue `10000`
   */
  readonly headersTimeoutMs: number;
  /**
   * A connection must send a whole request (headers and body; not the answer, so long polls and
   * event streams are not concerned) within this, 100-3,600,000 ms (`PROMPTQ_HTTP_REQUEST_TIMEOUT_MS`).
   * @defaultValue `30000`
   */
  readonly requestTimeoutMs: number;
  /**
   * Most connections open at once from one client address, 0-1,000,000 (`PROMPTQ_MAX_CONNECTIONS_PER_IP`;
   * 0: no cap). One more is closed at once. Behind a proxy every client has the proxy's address:
   * raise it there, and cap at the proxy. @defaultValue `256`
   */
  readonly maxConnectionsPerIp: number;
}

/** Waiting for a job to finish: `PromptQueue.wait` and `?wait=` (producer/waiters.ts). */
export interface WaitersConfig {
  /**
   * Most waits under way at once per process, 1-1,000,000 (`PROMPTQ_MAX_WAITERS`); one more is
   * refused (`TooManyWaitersError`, HTTP 429).
   * @defaultValue `1000`
   */
  readonly maxWaiters: number;
  /**
   * Most of those waits one tenant (a tenant token's requests) holds at once, 1-1,000,000
   * (`PROMPTQ_MAX_WAITERS_PER_TENANT`): one tenant's polls cannot take every wait of the process.
   * One more of that tenant's is refused (`TooManyWaitersError`, HTTP 429); other tenants' are not.
   * @defaultValue `100`
   */
  readonly maxPerTenant: number;
  /**
   * Wake on BullMQ's events (one blocking connection per queue handle). `false` re-reads the job on
   * a backoff (25 ms doubling to 500 ms): no extra connection, but Redis work for every wait.
   * @defaultValue `true`
   */
  readonly events: boolean;
  /** A wait re-reads its job at least this often, events or not. @defaultValue `30000` */
  readonly recheckMs: number;
  /** The job-events subscription closes after this long without a wait. @defaultValue `30000` */
  readonly lingerMs: number;
}

/** Limits applied by `validateJob` (core/job.ts). */
export interface JobLimits {
  /** Largest `max_tokens` a job may ask for, ≥ 1 (`PROMPTQ_MAX_TOKENS_CAP`). @defaultValue `128000` */
  readonly maxTokens: number;
  /** Most messages in one job. @defaultValue `1000` */
  readonly maxMessages: number;
  /** Longest string anywhere in a job body, in characters. @defaultValue `2000000` */
  readonly maxStringLength: number;
}

/**
 * `PROMPTQ_MODELS`: `any` (every model), or the models of the price list (`known`) and/or the
 * listed names (providers/anthropic/model-policy.ts).
 */
export type ModelsSetting =
  | { readonly kind: 'any' }
  | { readonly kind: 'listed'; readonly known: boolean; readonly names: readonly string[] };

/** Jobs: what is accepted, how long they are kept, how they are added (producer/queue.ts). */
export interface JobsConfig {
  readonly limits: JobLimits;
  /** Keep completed jobs and their records this many seconds, ≥ 1 (`PROMPTQ_KEEP_COMPLETED_SECONDS`). @defaultValue `604800` */
  readonly keepCompletedSeconds: number;
  /** Keep failed jobs this many seconds, ≥ 1 (`PROMPTQ_KEEP_FAILED_SECONDS`). @defaultValue `2592000` */
  readonly keepFailedSeconds: number;
  /**
   * Which models jobs may name, checked at enqueue (`PROMPTQ_MODELS`).
   * @example `{ kind: 'listed', known: true, names: ['my-proxy-model'] }`
   * @defaultValue `{ kind: 'any' }`
   */
  readonly models: ModelsSetting;
  /** Priority of a job that names none, so that explicit priorities 1-99 go before it. @defaultValue `100` */
  readonly defaultPriority: number;
  /** Most jobs in one `addBatch` (`POST /v1/jobs/batch`). @defaultValue `1000` */
  readonly maxBatch: number;
  /** How long a caller-given job id stays claimed while it is being added (idempotent enqueue). @defaultValue `30000` */
  readonly claimTtlMs: number;
  /** BullMQ-level attempts per job: infrastructure faults only (API errors are the worker's retries). @defaultValue `3` */
  readonly infraAttempts: number;
  /** First BullMQ-level backoff (exponential). @defaultValue `1000` */
  readonly infraBackoffMs: number;
}

/** Logs (core/log.ts, core/log-repeats.ts). */
export interface LogConfig {
  /** `debug`, `info`, `warn`, `error` or `silent` (`PROMPTQ_LOG_LEVEL`). @defaultValue `info` */
  readonly level: LogLevel;
  /** A repeated error (a Redis outage) is logged once, then summarised this often. @defaultValue `10000` */
  readonly repeatIntervalMs: number;
}

/** The observers of the one event source (events/emitter.ts): metrics, logs, rollups. */
export interface ObserversConfig {
  /**
   * Events one listener may have waiting or running off the job's path; past this the worker waits
   * for room before handing the job back, ≥ 1.
   * @defaultValue `1000`
   */
  readonly queueCapacity: number;
}

/**
 * How many tenants and models keep their name in the labels of /metrics, OpenTelemetry, the
 * dashboard's rollups and the log's unpriced-model warnings; the rest are `other`, so made-up names
 * cannot grow them without bound.
 */
export interface LabelsConfig {
  /** Tenants named, 0-10,000 (`PROMPTQ_MAX_TENANT_LABELS`). @defaultValue `50` */
  readonly maxTenants: number;
  /** Models named, 0-10,000 (`PROMPTQ_MAX_MODEL_LABELS`). @defaultValue `50` */
  readonly maxModels: number;
}

/** The dashboard's per-minute rollups (ops/metrics/rollups.ts). */
export interface RollupsConfig {
  /** How long per-minute rollups and slowest-call sets are kept, ≥ 3600. @defaultValue `93600` */
  readonly minuteRetentionSeconds: number;
  /** How long per-day cost rollups are kept (the month-end projection needs the month), ≥ 86400. @defaultValue `3456000` */
  readonly dayRetentionSeconds: number;
}

/** `promptq backfill` (cli/backfill.ts). */
export interface BackfillConfig {
  /** Priority of backfilled lines that name none: behind interactive traffic. @defaultValue `500` */
  readonly priority: number;
  /** `--via auto` sends files with at least this many jobs through the Message Batches API. @defaultValue `1000` */
  readonly batchesAutoMinJobs: number;
  /** Requests per Message Batch (the API allows 100,000). @defaultValue `10000` */
  readonly batchSize: number;
}

/** Job webhooks: their delivery queue, signing and SSRF guard (ops/webhooks/, docs/events.md). */
export interface WebhooksConfig {
  /**
   * `whsec_…` secret (`PROMPTQ_WEBHOOK_SECRET`): signs the webhooks of jobs of no tenant (never a
   * tenant's job: that is signed with the tenant's own secret). Never logged. @defaultValue `undefined`
   */
  readonly secret: string | undefined;
  /**
   * Master secret (`PROMPTQ_SECRETS_KEY`, at least 32 characters, not `secret`): the key that
   * encrypts tenants' webhook secrets at rest is derived from it (store/webhook-secrets.ts). Never
   * logged. @defaultValue `undefined`
   */
  readonly secretsKey: string | undefined;
  /** Allow receivers on loopback, private, link-local and metadata addresses (`PROMPTQ_WEBHOOK_ALLOW_PRIVATE`). @defaultValue `false` */
  readonly allowPrivate: boolean;
  /**
   * Comma-separated host names and addresses or CIDR ranges allowed although private
   * (`PROMPTQ_WEBHOOK_ALLOW_HOSTS`). @defaultValue `undefined`
   */
  readonly allowHosts: string | undefined;
  /** How long a delivery is retried before it is dead-lettered, in seconds (`PROMPTQ_WEBHOOK_RETRY_PERIOD`). @defaultValue `86400` */
  readonly retryPeriodSeconds: number;
  /** First retry delay; doubled each attempt up to `backoffMaxMs`. @defaultValue `5000` */
  readonly backoffBaseMs: number;
  /** Longest delay between two attempts. @defaultValue `3600000` */
  readonly backoffMaxMs: number;
  /** Deliveries in flight per process, apart from the job worker's slots (`PROMPTQ_WEBHOOK_CONCURRENCY`). @defaultValue `8` */
  readonly concurrency: number;
  /** One delivery attempt's time limit, connect to answer (`PROMPTQ_WEBHOOK_TIMEOUT_MS`). @defaultValue `10000` */
  readonly deliveryTimeoutMs: number;
  /** How long a delivery waits for its job's final state to be readable. @defaultValue `10000` */
  readonly settleMs: number;
}

/** Event streams (SSE, ops/streams/): what Redis keeps for `Last-Event-ID` to resume from. */
export interface StreamsConfig {
  /** State changes kept per tenant stream, and in the all-tenants stream (approximately). @defaultValue `10000` */
  readonly maxLength: number;
  /** Events kept per job (state changes and, while watched, its model stream events). @defaultValue `5000` */
  readonly jobMaxLength: number;
  /** A job's event stream expires this long after its last event, in seconds. @defaultValue `3600` */
  readonly jobTtlSeconds: number;
}

/** Routing jobs with a `deadline` between the live and the Message Batches route (producer/routing.ts, docs/cost.md). */
export interface RoutingConfig {
  /**
   * What a Message Batch is assumed to take until this account's own batches have been measured:
   * the API's ceiling, the conservative choice. @defaultValue `86400`
   */
  readonly batchTurnaroundSeconds: number;
  /** Measured turnarounds are multiplied by this before a deadline is judged by them. @defaultValue `1.5` */
  readonly turnaroundSafety: number;
  /** Time kept to run a job live when its batch is late (and the least a live job's deadline may leave). @defaultValue `600` */
  readonly liveLeadSeconds: number;
  /** The collector closes a batch at this many requests (at most the API's 100,000). @defaultValue `10000` */
  readonly batchMaxRequests: number;
  /** The collector closes a batch once its oldest job has waited this long in the lane. @defaultValue `60` */
  readonly batchMaxAgeSeconds: number;
  /** Whether workers run the batch collector (one active across processes, batches/collector.ts). @defaultValue `true` */
  readonly collector: boolean;
  /** How often the active collector fills, polls and collects batches. @defaultValue `1000` */
  readonly collectorIntervalMs: number;
  /** The collector's lease: another process takes over this long after the active one stopped renewing it. @defaultValue `30000` */
  readonly collectorLeaseMs: number;
}
