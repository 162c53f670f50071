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
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { type PromptqConfig, type PromptqOptions, resolveConfig, topologyOf } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import {
  type FieldProblem,
  type JobBody,
  type JobRequest,
  ValidationError,
  validateJob,
} from '../core/job.js';
import type { EventSink } from '../events/types.js';
import { type AddressPolicy, addressPolicy } from '../events/webhooks/address-guard.js';
import { AccountNames } from '../providers/account-names.js';
import { type ModelPolicy, modelPolicyOf } from '../providers/anthropic/model-policy.js';
import { createConnection, type RedisConnection } from '../store/connection.js';
import { bullJobId, callerJobId, type Keyspace, keyspaceOf, scopedJobId } from '../store/keys.js';
import { withinRedisDeadline } from '../store/redis-deadline.js';
import { checkSameRequest } from './conflicts.js';
import { type EnqueueOutcome, enqueueJobs, type Submission } from './enqueue-jobs.js';
import { type JobState, type JobView, jobState, readJobView } from './job-view.js';
import { type Judged, type RefusalContext, refusals } from './refusals.js';
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

  /** The one way into the queue (producer/enqueue-jobs.ts); `route`: jobs routed `batch` wait for the collector. */
  #enqueue(
    jobs: readonly Submission[],
    opts: { route?: boolean } = {},
  ): Promise<Array<{ id: string; outcome: EnqueueOutcome }>> {
    const { queue, connection, keys, config } = this;
    return enqueueJobs({ queue, connection, keys, config, events: this.#events }, jobs, opts.route === true);
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
