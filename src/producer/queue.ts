/**
 * The enqueue API used by the HTTP layer, the CLI and library users (docs/library.md):
 *
 * ```ts
 * import { PromptQueue } from 'promptq';
 * const q = new PromptQueue({ redis: { url: 'redis://127.0.0.1:6379' } });
 * const { id } = await q.add({ model: 'claude-haiku-4-5', max_tokens: 200, prompt: 'Hello' });
 * const job = await q.wait(id, 30_000);
 * ```
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { type PromptqConfig, type PromptqOptions, resolveConfig, topologyOf } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { combinedPriority, tenantOf } from '../core/fairness.js';
import {
  type FieldProblem,
  type JobBody,
  type JobRequest,
  ValidationError,
  validateJob,
} from '../core/job.js';
import { inSpan, SpanKind, traceMetadata } from '../core/trace.js';
import type { EventSink } from '../events/types.js';
import { type AddressPolicy, addressPolicy } from '../events/webhooks/address-guard.js';
import { AccountNames } from '../providers/account-names.js';
import { type ModelPolicy, modelPolicyOf } from '../providers/anthropic/model-policy.js';
import { enterLane } from '../store/batch-lane.js';
import { createConnection, type RedisConnection } from '../store/connection.js';
import { bullJobId, callerJobId, type Keyspace, keyspaceOf, scopedJobId } from '../store/keys.js';
import { withinRedisDeadline } from '../store/redis-deadline.js';
import { claimJobs, reserveRanks } from '../store/tenant-pending.js';
import { checkSameRequest } from './conflicts.js';
import { type JobState, type JobView, jobState, readJobView } from './job-view.js';
import { type Judged, type RefusalContext, refusals } from './refusals.js';
import { batchDues } from './routing.js';
import { JobWaiters } from './waiters.js';

/**
 * A queue handle's settings: any part of the configuration (`queue`, `prefix`, `redis`, `jobs`,
 * `waiters`; the rest default, settings.ts), plus what a process may share with it.
 */
export interface PromptQueueOptions extends PromptqOptions {
  /**
   * An ioredis connection (`Redis` or `Cluster`) to use, not closed by {@link PromptQueue.close}.
   * Without one the queue opens its own to `redis.url` (`redis.mode`, `redis.sentinelName`).
   */
  connection?: RedisConnection | undefined;
  /**
   * The models jobs may name, when the caller has built it already (it holds a price table);
   * others are refused with a {@link ValidationError} naming `model` (or `fallback_models.N`).
   * @defaultValue `modelPolicyOf(config)`: the policy of `jobs.models`
   */
  modelPolicy?: ModelPolicy | undefined;
  /** Where each job added is announced (`queued`, events/types.ts). @defaultValue nowhere */
  events?: EventSink | undefined;
  /** Which webhook receivers jobs may name. @defaultValue the policy of `webhooks` (the system resolver) */
  webhookTargets?: AddressPolicy | undefined;
}

/** What {@link PromptQueue.#enqueue} did with a job: claimed and added it, added it unclaimed, or found it. */
type EnqueueOutcome = 'created' | 'added' | 'existed';

/** A validated job on its way into the queue. */
interface Submission {
  request: JobRequest;
  /** The caller's idempotency key; a random id when none. */
  id?: string | undefined;
  priority?: number | undefined;
}

/**
 * A job to read: its id as its caller gave it, and the tenant it belongs to. A tenant's ids are its
 * own (store/keys.ts `scopedJobId`): the same id of another tenant, or of no tenant, is another job.
 * A plain string is an id of no tenant, or one promptq generated.
 */
export type JobRef = string | { id: string; tenant?: string | undefined };

/** A submission with its id as stored: a tenant's caller-given id carries the tenant's tag. */
function scoped(s: Submission): Submission {
  return s.id === undefined ? s : { ...s, id: scopedJobId(s.id, s.request.tenant_id) };
}

export interface AddResult {
  id: string;
  state: JobState;
  /** false when a job with this `id` already existed (idempotent re-submit). */
  created: boolean;
}

export class PromptQueue {
  readonly queue: Queue;
  readonly connection: RedisConnection;
  readonly name: string;
  /** The BullMQ prefix (hash-tagged on a cluster). */
  readonly prefix: string;
  /** Every Redis key of this queue. */
  readonly keys: Keyspace;
  /** The configuration this handle runs with (resolved from its options). */
  readonly config: PromptqConfig;
  readonly #ownsConnection: boolean;
  readonly #waiters: JobWaiters;
  readonly #models: ModelPolicy;
  /** The accounts a job may name (providers/account-names.ts), read at the first job naming one. */
  readonly #accounts: AccountNames;
  readonly #events: EventSink | undefined;
  readonly #webhookTargets: AddressPolicy;

  constructor(options: PromptQueueOptions = {}) {
    const { connection, modelPolicy, events, webhookTargets, ...settings } = options;
    this.config = resolveConfig(settings);
    this.keys = keyspaceOf(this.config);
    this.name = this.keys.queue;
    this.prefix = this.keys.prefix;
    if (connection instanceof Cluster && !this.keys.hashTag) {
      throw new ConfigError(
        'redis.mode',
        'a Redis Cluster connection needs redis.mode "cluster" (hash-tagged keys)',
      );
    }
    this.#ownsConnection = connection === undefined;
    this.connection = connection ?? createConnection(topologyOf(this.config));
    this.#models = modelPolicy ?? modelPolicyOf(this.config);
    this.#accounts = new AccountNames(this.config);
    this.#events = events;
    this.#webhookTargets = webhookTargets ?? addressPolicy(this.config.webhooks);
    this.queue = new Queue(this.name, { connection: this.connection, prefix: this.prefix });
    // The connection's own listeners see its errors (the service logs them). Without a listener
    // here BullMQ would print each one raw (`console.error`), a multi-line dump that is not JSON.
    this.queue.on('error', () => {});
    this.#waiters = new JobWaiters(
      this.connection,
      this.keys,
      (id, withPlace) => readJobView(this.queue, this.connection, this.keys, id, withPlace),
      this.config.waiters,
    );
  }

  #jobOptions(id: string, priority: number, timestamp: number) {
    const { jobs } = this.config;
    return {
      // Never the caller's id itself: it could name one of BullMQ's keys (store/keys.ts).
      jobId: bullJobId(id),
      timestamp,
      priority,
      // API errors are retried by the worker itself; these cover infrastructure faults only.
      attempts: jobs.infraAttempts,
      backoff: { type: 'exponential', delay: jobs.infraBackoffMs },
      removeOnComplete: { age: jobs.keepCompletedSeconds },
      removeOnFail: { age: jobs.keepFailedSeconds },
    };
  }

  /** What {@link refusals} reads. */
  get #refusalContext(): RefusalContext {
    const { config, connection, keys } = this;
    return {
      config,
      connection,
      keys,
      models: this.#models,
      accounts: this.#accounts,
      webhookTargets: this.#webhookTargets,
    };
  }

  /**
   * Every reason this queue refuses these jobs beyond their bodies' shape (producer/refusals.ts):
   * their models, accounts, webhook receivers and deadlines, each field named under `fieldOf(i)`.
   * The one judgement of `add`, `addBatch` and `addValidated`.
   */
  refusals(jobs: readonly Judged[], fieldOf: (i: number) => string, opts: { deadlines?: boolean } = {}) {
    return refusals(this.#refusalContext, jobs, fieldOf, opts);
  }

  /**
   * Validate and enqueue one job. The same `id` twice makes one job (`created: false`); the same
   * `id` with a different request throws {@link JobConflictError}.
   */
  async add(body: JobBody | unknown): Promise<AddResult> {
    const submission = scoped(validateJob(body, this.config.jobs.limits));
    const problems = await this.refusals([submission], () => '');
    if (problems.length > 0) throw new ValidationError(problems);
    // Through a failover: wait for the new primary, at most redis.enqueueTimeoutMs (redis-deadline.ts).
    return withinRedisDeadline(this.connection, this.config.redis.enqueueTimeoutMs, () =>
      this.#addOne(submission),
    );
  }

  async #addOne(submission: Submission): Promise<AddResult> {
    await checkSameRequest(this.connection, this.keys, [submission], () => 'id');
    const [job] = await this.#enqueue([submission], { route: true });
    const { id, outcome } = job!;
    // A concurrent submitter of this id with another request may have won the claim meanwhile.
    if (outcome !== 'created') await checkSameRequest(this.connection, this.keys, [submission], () => 'id');
    // Only the claim's winner answers "created": of concurrent submitters of one id, one gets 202.
    return {
      id: callerJobId(id),
      state: (await jobState(this.queue, bullJobId(id))) ?? 'waiting',
      created: outcome === 'created',
    };
  }

  /** Validate every job first (all-or-nothing), then enqueue them in one round trip. */
  async addBatch(bodies: unknown): Promise<{ ids: string[] }> {
    if (!Array.isArray(bodies) || bodies.length === 0) {
      throw new ValidationError([{ field: 'jobs', message: 'must be a non-empty array of job bodies' }]);
    }
    const { maxBatch } = this.config.jobs;
    if (bodies.length > maxBatch) {
      throw new ValidationError([{ field: 'jobs', message: `at most ${maxBatch} jobs per batch` }]);
    }
    const problems: FieldProblem[] = [];
    const valid = bodies.map((b, i) => {
      try {
        return scoped(validateJob(b, this.config.jobs.limits));
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        for (const p of err.problems) problems.push({ field: `jobs.${i}.${p.field}`, message: p.message });
        return null;
      }
    });
    const seen = new Set<string>();
    valid.forEach((v, i) => {
      if (v?.id === undefined) return;
      if (seen.has(v.id))
        problems.push({
          field: `jobs.${i}.id`,
          message: `duplicate id "${callerJobId(v.id)}" in this batch`,
        });
      seen.add(v.id);
    });
    if (problems.length === 0)
      problems.push(...(await this.refusals(valid as Submission[], (i) => `jobs.${i}.`)));
    if (problems.length > 0) throw new ValidationError(problems);
    return withinRedisDeadline(this.connection, this.config.redis.enqueueTimeoutMs, async () => {
      await checkSameRequest(this.connection, this.keys, valid as Submission[], (i) => `jobs.${i}.id`);
      const added = await this.#enqueue(
        valid.map((v) => v!),
        { route: true },
      );
      return { ids: added.map((j) => callerJobId(j.id)) };
    });
  }

  /**
   * Enqueue jobs whose bodies are validated (`validateJob`) with caller-chosen ids in one round trip
   * (backfills: deterministic ids make a re-run add nothing twice). The ids are stored ids: a
   * tenant's carry its tag (`scopedJobId(id, request.tenant_id)`). They are judged as `add` judges
   * a job ({@link refusals}: models, accounts, webhook receivers, deadlines) before any is added: a
   * refusal throws {@link ValidationError} naming the job's input line (`line.12.webhook.url`) when
   * it has one, else its index (`jobs.3.`), and adds none. `resubmit`: jobs accepted before and
   * added again (a batch's jobs sent live), whose deadlines are not judged again. Returns how many
   * were new: not there before this call (including those a killed run had claimed but not added).
   * A job that exists is left as it is, whatever its request: the backfill's results pass compares
   * the whole request and reports a different one as that line's error (backfill/results.ts).
   */
  async addValidated(
    jobs: ReadonlyArray<{ request: JobRequest; id: string; priority?: number; line?: number }>,
    opts: { resubmit?: boolean } = {},
  ): Promise<{ added: number }> {
    const fieldOf = (i: number) => {
      const line = jobs[i]?.line;
      return line === undefined ? `jobs.${i}.` : `line.${line}.`;
    };
    const problems = await this.refusals(jobs, fieldOf, { deadlines: opts.resubmit !== true });
    if (problems.length > 0) throw new ValidationError(problems);
    const added = await this.#enqueue(jobs);
    return { added: added.filter((j) => j.outcome !== 'existed').length };
  }

  /**
   * The one way into the queue (single, batch and bulk): claim the ids and count the claimed jobs in
   * their tenants' fairness ranks in one atomic step (store/tenant-pending.ts), then add the claimed
   * jobs in one `addBulk`. A job that exists is left as it is (`existed`). An id whose claim another
   * submitter holds and that does not exist yet is added too (`added`, at a rank reserved apart):
   * BullMQ ignores an existing jobId, and this covers a submitter that died between its claim and
   * its add.
   */
  async #enqueue(
    jobs: readonly Submission[],
    opts: { route?: boolean } = {},
  ): Promise<Array<{ id: string; outcome: EnqueueOutcome }>> {
    if (jobs.length === 0) return [];
    // The jobs start their traces here (a child of the caller's span, e.g. the HTTP request that
    // carried a `traceparent`); each job carries this context to whichever worker runs it.
    return inSpan(
      `send ${this.name}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'bullmq',
          'messaging.operation.type': 'send',
          'messaging.destination.name': this.name,
          'messaging.batch.message_count': jobs.length,
        },
      },
      () => this.#enqueueTraced(jobs, opts.route === true),
    );
  }

  async #enqueueTraced(
    jobs: readonly Submission[],
    route: boolean,
  ): Promise<Array<{ id: string; outcome: EnqueueOutcome }>> {
    const timestamp = Date.now();
    // Routed `batch` (producer/routing.ts): delayed until the job must run live, and in the batch lane.
    const dues = route
      ? await batchDues(this.connection, this.keys, this.config.routing, jobs, timestamp)
      : jobs.map(() => undefined);
    const dueOf = new Map(jobs.map((j, i) => [j, dues[i]]));
    const all = jobs.map((j) => ({
      ...j,
      id: j.id ?? randomUUID(),
      tenant: tenantOf(j.request),
      batchDue: dueOf.get(j),
      // An id generated here cannot exist or be claimed by another submitter: no claim needed.
      fresh: j.id === undefined,
    }));
    const claims = await claimJobs(this.connection, this.keys, all, this.config.jobs.claimTtlMs);
    const add: Array<{ job: (typeof all)[number]; rank: number }> = [];
    const busy: typeof all = [];
    all.forEach((job, i) => {
      const claim = claims[i];
      if (claim?.kind === 'claimed') add.push({ job, rank: claim.rank });
      else if (claim?.kind === 'busy') busy.push(job);
    });
    const unseen = await this.#notExisting(busy);
    if (unseen.length > 0) {
      const counts = new Map<string, number>();
      for (const j of unseen) counts.set(j.tenant, (counts.get(j.tenant) ?? 0) + 1);
      const next = await reserveRanks(this.connection, this.keys.tenantPending, counts);
      for (const job of unseen) {
        const rank = next.get(job.tenant) ?? 0;
        next.set(job.tenant, rank + 1);
        add.push({ job, rank });
      }
    }
    if (add.length > 0) {
      const metadata = traceMetadata();
      await this.queue.addBulk(
        add.map(({ job, rank }) => ({
          name: job.request.model,
          data: job.request,
          // BullMQ priorities: user priority first, then round robin between tenants (fairness.ts).
          opts: {
            ...this.#jobOptions(
              job.id,
              combinedPriority(job.priority ?? this.config.jobs.defaultPriority, rank),
              timestamp,
            ),
            ...(metadata === undefined ? {} : { telemetry: { metadata } }),
            ...(job.batchDue === undefined ? {} : { delay: Math.max(1, job.batchDue - timestamp) }),
          },
        })),
      );
      const lane = add.filter(({ job }) => job.batchDue !== undefined);
      // The batch collector gathers them (batches/collector.ts).
      await enterLane(
        this.connection,
        this.keys,
        lane.map(({ job }) => ({ id: job.id, at: timestamp })),
      );
      for (const { job } of add) {
        await this.#events?.emit('queued', {
          jobId: callerJobId(job.id),
          model: job.request.model,
          request: job.request,
        });
      }
    }
    const added = new Set(unseen.map((j) => j.id));
    return all.map((j, i) => ({
      id: j.id,
      outcome: claims[i]?.kind === 'claimed' ? 'created' : added.has(j.id) ? 'added' : 'existed',
    }));
  }

  /** The jobs among `jobs` that do not exist (yet). */
  async #notExisting<J extends { id: string }>(jobs: readonly J[]): Promise<J[]> {
    const states = await Promise.all(jobs.map((j) => jobState(this.queue, bullJobId(j.id))));
    return jobs.filter((_, i) => states[i] === null);
  }

  /** Resolves once Redis answers this handle (until then the HTTP API answers `503`). */
  async waitUntilReady(): Promise<void> {
    await this.queue.waitUntilReady();
  }

  /**
   * The job's state, request, result, record and error; `null` for an unknown id. With a tenant,
   * that tenant's job of this id (or the job promptq generated this id for, when it is the
   * tenant's); without, the job of no tenant (or with a generated id).
   */
  async get(ref: JobRef): Promise<JobView | null> {
    const { id, tenant } = typeof ref === 'string' ? { id: ref, tenant: undefined } : ref;
    const own = await readJobView(this.queue, this.connection, this.keys, scopedJobId(id, tenant));
    if (own !== null || tenant === undefined) return own;
    const shared = await readJobView(this.queue, this.connection, this.keys, id);
    return shared?.request.tenant_id === tenant ? shared : null;
  }

  /** The stored id {@link get} reads for `ref` (the tenant's own when neither exists). */
  async #storedIdOf(ref: JobRef): Promise<string> {
    if (typeof ref === 'string' || ref.tenant === undefined) return typeof ref === 'string' ? ref : ref.id;
    const own = scopedJobId(ref.id, ref.tenant);
    if ((await jobState(this.queue, bullJobId(own))) !== null) return own;
    const shared = await readJobView(this.queue, this.connection, this.keys, ref.id);
    return shared?.request.tenant_id === ref.tenant ? ref.id : own;
  }

  /**
   * Wait until the job is completed or failed, or `timeoutMs` passes; returns its view either way
   * (`null` for an unknown id). Woken by BullMQ's events, not by polling (producer/waiters.ts).
   * Throws {@link TooManyWaitersError} when `waiters.maxWaiters` waits are already under way, or
   * `waiters.maxPerTenant` of `ref`'s tenant.
   */
  async wait(ref: JobRef, timeoutMs: number, signal?: AbortSignal): Promise<JobView | null> {
    const tenant = typeof ref === 'string' ? undefined : ref.tenant;
    return this.#waiters.wait(await this.#storedIdOf(ref), timeoutMs, signal, tenant);
  }

  /** Waits under way now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Shutdown: every wait answers now with its job's current state, and later ones do not wait.
   * Resolves once they have answered (at most about a second).
   */
  async releaseWaiters(): Promise<void> {
    await this.#waiters.release();
  }

  async close(): Promise<void> {
    await this.#waiters.close();
    await this.queue.close();
    if (this.#ownsConnection) this.connection.disconnect();
  }
}
