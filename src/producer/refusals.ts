/**
 * What a queue refuses at enqueue beyond a body's own shape (`validateJob`, core/job.ts): a model
 * the policy does not allow (`PROMPTQ_MODELS`), an account no accounts file names, a webhook
 * receiver the SSRF guard refuses (events/webhooks/address-guard.ts), a deadline no route can meet
 * (producer/routing.ts). One function for every way in — `add`, `addBatch` and `addValidated`
 * (backfills) — so that none lets through what another refuses.
 */
import type { PromptqConfig } from '../core/config.js';
import type { FieldProblem, JobRequest } from '../core/job.js';
import {
  type AddressPolicy,
  checkWebhookTarget,
  WebhookTargetError,
} from '../events/webhooks/address-guard.js';
import type { AccountNames } from '../providers/account-names.js';
import type { ModelPolicy } from '../providers/anthropic/model-policy.js';
import type { RedisConnection } from '../store/connection.js';
import { bullJobId, type Keyspace } from '../store/keys.js';
import { withinRedisDeadline } from '../store/redis-deadline.js';
import { batchTurnaround, chooseRoute } from './routing.js';

/** What the checks read: the queue's settings, its Redis, its model policy and account names. */
export interface RefusalContext {
  config: PromptqConfig;
  connection: RedisConnection;
  keys: Keyspace;
  models: ModelPolicy;
  accounts: AccountNames;
  webhookTargets: AddressPolicy;
}

/** A job to judge: its request and its stored id (`undefined`: promptq makes one, it cannot exist). */
export interface Judged {
  request: JobRequest;
  id?: string | undefined;
}

/**
 * Every reason to refuse `jobs`, each field named under `fieldOf(i)` (`''` for one job, `jobs.3.`
 * for a batch's fourth). In stages, as a caller meets them: models and accounts; then receivers;
 * then deadlines (Redis, waited for at most `redis.enqueueTimeoutMs`). `deadlines: false` leaves
 * deadlines alone: a job accepted before and added again (a batch's job sent live).
 */
export async function refusals(
  ctx: RefusalContext,
  jobs: readonly Judged[],
  fieldOf: (i: number) => string,
  opts: { deadlines?: boolean } = {},
): Promise<FieldProblem[]> {
  const names = jobs.flatMap((j, i) => [
    ...ctx.models.problems(j.request, fieldOf(i)),
    ...ctx.accounts.problems(j.request, fieldOf(i)),
  ]);
  if (names.length > 0) return names;
  const receivers = await webhookProblems(ctx.webhookTargets, jobs, fieldOf);
  if (receivers.length > 0 || opts.deadlines === false) return receivers;
  const { connection, config } = ctx;
  return withinRedisDeadline(connection, config.redis.enqueueTimeoutMs, () =>
    deadlineProblems(ctx, jobs, fieldOf),
  );
}

/**
 * A receiver that is a private address (events/webhooks/address-guard.ts). Each host is resolved
 * once per call, however many jobs name it (a backfill's chunk: a thousand lines, one receiver).
 */
async function webhookProblems(
  policy: AddressPolicy,
  jobs: readonly Judged[],
  fieldOf: (i: number) => string,
): Promise<FieldProblem[]> {
  const problems: FieldProblem[] = [];
  // The guard judges a host (its name and addresses), never a path: one verdict per host.
  const verdicts = new Map<string, Promise<string | undefined>>();
  for (const [i, { request }] of jobs.entries()) {
    if (request.webhook === undefined) continue;
    const { url } = request.webhook;
    const host = new URL(url).hostname.toLowerCase();
    let verdict = verdicts.get(host);
    if (verdict === undefined) {
      verdict = hostProblem(policy, url);
      verdicts.set(host, verdict);
    }
    const message = await verdict;
    if (message !== undefined) problems.push({ field: `${fieldOf(i)}webhook.url`, message });
  }
  return problems;
}

/** Why the guard refuses `url`'s host (`undefined`: it does not). */
async function hostProblem(policy: AddressPolicy, url: string): Promise<string | undefined> {
  try {
    await checkWebhookTarget(policy, url);
    return undefined;
  } catch (err) {
    if (!(err instanceof WebhookTargetError)) throw err;
    return err.message.replace(/^webhook\.url: /, '');
  }
}

/**
 * Deadlines no route can meet (producer/routing.ts). A job that exists already is answered as it
 * is (the same id again), whatever its deadline says now.
 */
async function deadlineProblems(
  ctx: RefusalContext,
  jobs: readonly Judged[],
  fieldOf: (i: number) => string,
): Promise<FieldProblem[]> {
  if (!jobs.some((j) => j.request.deadline !== undefined)) return [];
  const { routing } = ctx.config;
  const turnaround = await batchTurnaround(ctx.connection, ctx.keys, routing);
  const pipe = ctx.connection.pipeline();
  for (const j of jobs) pipe.exists(ctx.keys.job(bullJobId(j.id ?? '-')));
  const rows = (await pipe.exec()) ?? [];
  const exists = rows.map((row, i) => jobs[i]?.id !== undefined && row[1] === 1);
  const now = Date.now();
  const problems: FieldProblem[] = [];
  jobs.forEach((j, i) => {
    if (exists[i]) return;
    const r = chooseRoute(j.request, now, turnaround, ctx.config.routing);
    if ('problem' in r) problems.push({ ...r.problem, field: `${fieldOf(i)}${r.problem.field}` });
  });
  return problems;
}
