/**
 * Every Redis key promptq reads or writes comes from one {@link Keyspace} object, built once per
 * queue from the prefix, the queue's name and the hash tag ({@link keyspaceOf}), as every BullMQ
 * key comes from BullMQ's `QueueKeys`. Two families:
 *
 * - **Per queue**, under the queue's BullMQ prefix: `${prefix}:${queue}:…`. BullMQ's own keys
 *   (`…:wait`, `…:<job id>`, `…:<job id>:lock`) and promptq's (`…:promptq:…`) sit side by side, so
 *   a queue's state is one key range.
 * - **Per account and model group** (the limiter, shared by every queue using one API key):
 *   `promptq:limiter:<account>:<group>`.
 *
 * With `hashTag` the queue's prefix becomes `${prefix}:{${queue}}` and the limiter's group
 * `{<account>:<group>}`, so each queue's keys (BullMQ's and ours) and each group's keys hash to one
 * Redis Cluster slot: every multi-key script and pipeline then stays in a slot, while different
 * queues spread over the cluster. Giving the tagged prefix itself (`prefix: 'bull:{prompts}'`) makes
 * the same queue keys, so any BullMQ client given {@link Keyspace.prefix} follows. Without a tag (the default)
 * BullMQ's keys, the records, the fairness counters and the limiter's keys are those of earlier
 * releases; the rollups moved here from `promptq:<queue>:…` and the claim from `<job key>:promptq-claim`.
 *
 * Job ids given through promptq (the API, the CLI, backfill, the library) live in BullMQ as
 * `pq.<id>` ({@link bullJobId}): a caller's id can then never name one of BullMQ's own keys (`id:
 * "marker"` would otherwise make the job hash `…:marker`, BullMQ's marker, and break every later
 * add), nor be an integer BullMQ refuses. Everything that shows an id shows the caller's
 * ({@link publicJobId}). Jobs added by another BullMQ client keep their own ids. A tenant's ids are
 * its own ({@link scopedJobId}): its job `req-1` is `pq.req-1.t<digest of the tenant>`.
 *
 * | key | type | written by |
 * |---|---|---|
 * | `<base>:pq.<id>` (field `record`) | hash, BullMQ's job | record-store.ts |
 * | `<base>:promptq:claim:<id>` | string, 30 s | claim-jobs (enqueue) |
 * | `<base>:promptq:tenant-pending` | hash tenant → pending jobs | claim-jobs, save-final-record |
 * | `<base>:promptq:rollup:<epoch minute>` | hash, see rollup-format.ts | rollups.ts |
 * | `<base>:promptq:rollup:day:<YYYY-MM-DD>` | hash | rollups.ts |
 * | `<base>:promptq:slowest:<epoch hour>` | sorted set | rollups.ts |
 * | `<base>:promptq:tenants` | set of tenant names | tenant-store.ts |
 * | `<base>:promptq:tenant:<name>` | hash: budgets, on_exceed, token digest | tenant-store.ts |
 * | `<base>:promptq:tenant-tokens` | hash token SHA-256 (hex) → tenant name | tenant-store.ts |
 * | `<base>:promptq:events:<tenant>`, `<base>:promptq:events` | capped streams of job state changes (a tenant's, every tenant's) | ops/streams/recorder.ts |
 * | `<base>:promptq:job-events:<id>` | capped stream of one job's state changes and, while watched, its model stream events; expires | ops/streams/recorder.ts |
 * | `<base>:promptq:pace` | hash model group → its limiter's request pace (JSON), for `eta_s` | ops/streams/pace.ts |
 * | `<base>:promptq:job-events:<id>:watch` | string: an SSE client watches the job (its model events are recorded); expires | ops/streams/job-route.ts |
 * | `<base>:promptq:job-events-watched` | string: some SSE client watches some job of the queue (set and renewed with each job's watch); expires | ops/streams/routes.ts |
 * | `${prefix}:<queue>.webhooks:…` | BullMQ's keys of the webhook delivery queue ({@link Keyspace.webhookQueue}) | ops/webhooks |
 * | `<base>:promptq:budget:<name>:day:<YYYY-MM-DD>` | string, nano-USD spent; TTL past the day | budget-*.lua |
 * | `<base>:promptq:budget:<name>:month:<YYYY-MM>` | string, nano-USD spent; TTL past the month | budget-*.lua |
 * | `<base>:promptq:budget:<name>:holds` | hash reservation id → worst-case cost, periods, expiry | budget-*.lua |
 * | `<base>:promptq:quota:<name>` | hash: the tenant's request and token buckets; 2 min TTL | quota-admit-2.lua |
 * | `<base>:promptq:batches` | sorted set batch id → created (ms) | batch-store.ts |
 * | `<base>:promptq:batch:<batch id>` | hash, see batch-store.ts | batch-store.ts |
 * | `<base>:promptq:batch-of` | hash job id → batch id | batch-store.ts |
 * | `<base>:promptq:batch-intents` | hash token → batch being submitted (JSON) | batch-store.ts |
 * | `<base>:promptq:batch-turnarounds` | list of the last Message Batches' created → ended (ms), newest first | batch-store.ts |
 * | `<base>:promptq:batch-lane` | sorted set job id → entered the lane (ms): jobs routed `batch` waiting for a batch | batch-lane.ts |
 * | `<base>:promptq:batch-open` | set of the collector's batches not collected yet | batch-lane.ts |
 * | `<base>:promptq:collector-lease` | string: the token of the one active collector; expires | batch-lane.ts |
 * | `promptq:limiter:<account>:<group>` | hash, see limiter/shared-state.ts | limiter-*.lua |
 * | `promptq:limiter:<account>:<group>:tenant:<prefix>:<queue>/<name>` | hash: a tenant's share buckets of the group; expires once full | limiter-admit-2.lua, limiter-share-refund-1.lua |
 * | `promptq:limiter:<account>:<group>:cache:<model>:<prefix digest>` | string: `c` while the API holds the prompt prefix, `w:<token>` while its writer is out; expires | cache-turn-1.lua |
 * | `promptq:affinity:<model>:<prefix digest>` | string: the NAME of the pool's account holding the prompt prefix's cache; expires after the cache lifetime | prefix-affinity-1.lua |
 */

import { createHash } from 'node:crypto';
import { defaults } from '../core/defaults.js';
import type { PromptqConfig } from '../core/settings.js';

/** The namespace of state that belongs to no queue (the limiter). */
export const globalNamespace = 'promptq';
/** The segment that separates promptq's per-queue keys from BullMQ's. */
const own = 'promptq';

export interface KeyspaceOptions {
  /** The queue's name. */
  queue: string;
  /** BullMQ key prefix. @defaultValue `defaults.prefix` (`bull`) */
  prefix?: string | undefined;
  /**
   * Hash-tag the keys for Redis Cluster: a queue's keys share one slot (`bull:{prompts}:prompts:…`),
   * a limiter group's keys another. @defaultValue `false`
   */
  hashTag?: boolean | undefined;
}

/** `{s}`: the part of a key Redis Cluster hashes. */
const tag = (s: string) => `{${s}}`;

/**
 * The suffixes of BullMQ's own per-queue keys (BullMQ's `QueueKeys.getKeys`, plus `metrics`): a
 * job whose BullMQ id is one of these would put its hash on top of a queue structure.
 */
export const bullmqKeySuffixes: ReadonlySet<string> = new Set([
  'active',
  'wait',
  'waiting-children',
  'paused',
  'id',
  'delayed',
  'prioritized',
  'stalled-check',
  'completed',
  'failed',
  'stalled',
  'repeat',
  'limiter',
  'meta',
  'events',
  'pc',
  'marker',
  'de',
  'metrics',
]);

/** What sets promptq's job ids apart in BullMQ's key space (`.` is not in a caller's id). */
const jobIdMark = 'pq.';

/**
 * The stored id of a caller's id: ids are per tenant. A tenant's job (`tenant_id` set) given an id
 * by its caller is stored as `<id>.<tag>`, the tag a digest of the tenant's name, so two tenants may
 * use one id without seeing or blocking each other, and no tenant can take an id another will use.
 * Ids without a tenant, and ids promptq generates (random UUIDs, not guessable), stay as they are.
 */
export function scopedJobId(id: string, tenant: string | undefined): string {
  if (tenant === undefined || tenant === '') return id;
  const tag = createHash('sha256').update(tenant).digest('base64url').slice(0, 22);
  return `${id}.t${tag}`;
}

/** The caller's id of a stored id ({@link scopedJobId}): the part before the tenant's tag. */
export function callerJobId(storedId: string): string {
  const dot = storedId.indexOf('.');
  return dot < 0 ? storedId : storedId.slice(0, dot);
}

/** The BullMQ job id of a stored id given through promptq (see the file's header). */
export function bullJobId(storedId: string): string {
  return `${jobIdMark}${storedId}`;
}

/** The stored id of a BullMQ job id ({@link scopedJobId}'s form); others unchanged. */
export function storedJobId(bullId: string): string {
  return bullId.startsWith(jobIdMark) ? bullId.slice(jobIdMark.length) : bullId;
}

/** The id to show for a BullMQ job id: the caller's id for promptq's jobs, others unchanged. */
export function publicJobId(bullId: string): string {
  return bullId.startsWith(jobIdMark) ? callerJobId(bullId.slice(jobIdMark.length)) : bullId;
}

/**
 * Every Redis key promptq names, for one queue: built once from the prefix, the queue and the hash
 * tag ({@link keyspaceOf} builds it from a configuration), then handed to every component that
 * names a key — BullMQ's `Queue` and `Worker` take its {@link Keyspace.prefix}.
 */
export class Keyspace {
  /** The queue name (unchanged by tagging: it is what Bull Board and the metrics show). */
  readonly queue: string;
  /** The prefix to give BullMQ's `Queue` and `Worker` for this queue (hash-tagged with `hashTag`). */
  readonly prefix: string;
  /** `${prefix}:${queue}`: every key of the queue starts with this. */
  readonly base: string;
  /** Whether keys are hash-tagged (Redis Cluster): the queue's in one slot, each limiter group's in one. */
  readonly hashTag: boolean;

  constructor(opts: KeyspaceOptions) {
    const prefix = opts.prefix ?? defaults.prefix;
    if (opts.hashTag && prefix.includes('{')) {
      throw new RangeError(`prefix: "${prefix}" already has a hash tag; leave hashTag off`);
    }
    this.queue = opts.queue;
    this.hashTag = opts.hashTag ?? false;
    this.prefix = this.hashTag ? `${prefix}:${tag(opts.queue)}` : prefix;
    this.base = `${this.prefix}:${opts.queue}`;
  }

  /** A key of BullMQ's own (`wait`, `completed`, `events`, `meta`, …), for tests and tools. */
  bullmq(type: string): string {
    return `${this.base}:${type}`;
  }

  /** The job hash of a BullMQ job id; promptq keeps the job record in its `record` field. */
  job(bullId: string): string {
    return `${this.base}:${bullId}`;
  }

  /** BullMQ's lock of a job (its value is the token of the worker holding it). */
  jobLock(id: string): string {
    return jobLockKey(this.job(id));
  }

  /** A short-lived claim of a caller-given job id while it is being added (idempotent enqueue). */
  claim(id: string): string {
    return `${this.base}:${own}:claim:${id}`;
  }

  /** Pending jobs per tenant (fairness ranks). */
  get tenantPending(): string {
    return `${this.base}:${own}:tenant-pending`;
  }

  /** Rollup of the jobs that finished in one minute (epoch minutes). */
  rollupMinute(minute: number): string {
    return `${this.base}:${own}:rollup:${minute}`;
  }

  /** Per-tenant cost and jobs of one UTC day (`YYYY-MM-DD`). */
  rollupDay(day: string): string {
    return `${this.base}:${own}:rollup:day:${day}`;
  }

  /** The slowest calls that finished in one hour (epoch hours). */
  slowest(hour: number): string {
    return `${this.base}:${own}:slowest:${hour}`;
  }

  /** The names of the queue's tenants (credentials and budgets). */
  get tenants(): string {
    return `${this.base}:${own}:tenants`;
  }

  /** One tenant: its budgets, what happens over budget, its token's digest (never the token). */
  tenant(name: string): string {
    return `${this.base}:${own}:tenant:${name}`;
  }

  /**
   * The BullMQ queue (name; its prefix is {@link Keyspace.prefix}) of the queue's webhook
   * deliveries: its keys sit in the queue's slot when hash-tagged.
   */
  get webhookQueue(): string {
    return `${this.queue}.webhooks`;
  }

  /**
   * One job's events (state changes, and its model stream events while watched): a capped stream.
   * Ids are per tenant, so the job is its caller's id and its tenant ({@link scopedJobId}).
   */
  jobEvents(id: string, tenant: string | null | undefined): string {
    return `${this.base}:${own}:job-events:${scopedJobId(id, tenant ?? undefined)}`;
  }

  /** Each model group's current request pace as the limiter set it (a waiting job's `eta_s`). */
  get pace(): string {
    return `${this.base}:${own}:pace`;
  }

  /**
   * Set while an SSE client watches any job of the queue (renewed with each job's watch key): while
   * it is absent, a worker records no job's model events and need not ask about each job.
   */
  get jobEventsWatched(): string {
    return `${this.base}:${own}:job-events-watched`;
  }

  /** Set while an SSE client watches the job: its model stream events are then recorded. */
  jobEventsWatch(id: string, tenant: string | null | undefined): string {
    return `${this.jobEvents(id, tenant)}:watch`;
  }

  /**
   * Set (with a time to live) while a `GET /v1/events` client listens, or listened lately: the
   * tenant-wide streams are written only then (a job's own stream always is).
   */
  get eventsListened(): string {
    return `${this.base}:${own}:events-listened`;
  }

  /** Job state changes of one tenant (`null`: of every tenant), a capped Redis stream (SSE resume). */
  eventStream(tenant: string | null): string {
    return tenant === null ? `${this.base}:${own}:events` : `${this.base}:${own}:events:${tenant}`;
  }

  /** Token digest → tenant name: how a request's token finds its tenant. */
  get tenantTokens(): string {
    return `${this.base}:${own}:tenant-tokens`;
  }

  /** What a tenant spent in one UTC day (`YYYY-MM-DD`) or month (`YYYY-MM`), in nano-USD. */
  budgetSpent(name: string, period: 'day' | 'month', id: string): string {
    return `${this.base}:${own}:budget:${name}:${period}:${id}`;
  }

  /** A tenant's reservations: the worst-case cost of each call admitted and not yet settled. */
  budgetHolds(name: string): string {
    return `${this.base}:${own}:budget:${name}:holds`;
  }

  /** A tenant's per-minute quota buckets (requests, tokens). */
  quota(name: string): string {
    return `${this.base}:${own}:quota:${name}`;
  }

  /** The Message Batches promptq submitted for this queue (batch id → created, ms). */
  get batches(): string {
    return `${this.base}:${own}:batches`;
  }

  /** One submitted Message Batch: its state as promptq last saw it. */
  batch(id: string): string {
    return `${this.base}:${own}:batch:${id}`;
  }

  /** Which batch each backfill job was submitted in (the ledger that keeps a resume from submitting twice). */
  get batchOf(): string {
    return `${this.base}:${own}:batch-of`;
  }

  /** Batches being submitted: written before the API is asked, removed once its answer is saved. */
  get batchIntents(): string {
    return `${this.base}:${own}:batch-intents`;
  }

  /** How long this account's last Message Batches took, created → ended (ms), newest first. */
  get batchTurnarounds(): string {
    return `${this.base}:${own}:batch-turnarounds`;
  }

  /** Jobs routed `batch` that wait for the collector to put them in a batch (job id → entered, ms). */
  get batchLane(): string {
    return `${this.base}:${own}:batch-lane`;
  }

  /** The collector's batches that were submitted and not collected yet. */
  get batchOpen(): string {
    return `${this.base}:${own}:batch-open`;
  }

  /** Jobs a batch finished whose events are not emitted yet (batches/collector-results.ts). */
  get batchUnemitted(): string {
    return `${this.base}:${own}:batch-unemitted`;
  }

  /** The lease of the one active collector (batches/collector.ts). */
  get collectorLease(): string {
    return `${this.base}:${own}:collector-lease`;
  }

  /**
   * The limiter's key of one account and model group: one hash, so one slot whatever the mode. Not
   * the queue's: every queue using the account shares it.
   */
  limiterGroup(account: string, group: string): string {
    const id = `${account}:${group}`;
    return `${globalNamespace}:limiter:${this.hashTag ? tag(id) : id}`;
  }

  /**
   * A tenant's share buckets of one account's model group: under the group's key (and hash tag), so
   * the limiter's admission charges both in one script. `tenant` names the tenant within the
   * account's queues (`<queue key base>/<tenant>`: `bull:prompts/acme`).
   */
  limiterShare(account: string, group: string, tenant: string): string {
    return `${this.limiterGroup(account, group)}:tenant:${tenant}`;
  }

  /**
   * The worker processes that asked one account for permits lately (limiter/peers.ts): one sorted
   * set per account, outside the groups' keys (no model group can share its name).
   */
  limiterPeers(account: string): string {
    return `${globalNamespace}:limiter-peers:${this.hashTag ? tag(account) : account}`;
  }

  /**
   * A cacheable prompt prefix of one account's model group (limiter/cache-order.ts): whether the
   * API holds it or a call is writing it. Under the group's key (and hash tag).
   */
  limiterCachePrefix(account: string, group: string, prefix: string): string {
    return `${this.limiterGroup(account, group)}:cache:${prefix}`;
  }

  /**
   * The account of a pool that holds a cacheable prompt prefix's cache (limiter/prefix-affinity.ts):
   * `prefix` is `<model>:<prefix digest>`. Not the queue's: every queue of the pool shares it. On a
   * cluster, in the prefix's own slot.
   */
  prefixAffinity(prefix: string): string {
    return `${globalNamespace}:affinity:${this.hashTag ? tag(prefix) : prefix}`;
  }

  /** A pattern matching every key of the queue (tests and tools; never in a hot path). */
  get pattern(): string {
    return `${this.base.replace(/[*?[\]\\]/g, '\\$&')}:*`;
  }
}

/** BullMQ's lock key of a job hash key. */
export function jobLockKey(jobKey: string): string {
  return `${jobKey}:lock`;
}

/**
 * The keyspace of a configuration's queue: its prefix, its name, and hash tags on a Redis Cluster
 * (`redis.mode: 'cluster'`).
 */
export function keyspaceOf(config: Pick<PromptqConfig, 'queue' | 'prefix' | 'redis'>): Keyspace {
  return new Keyspace({
    queue: config.queue,
    prefix: config.prefix,
    hashTag: config.redis.mode === 'cluster',
  });
}
