/**
 * The delivery worker: a BullMQ worker of its own on the webhook queue (deliveries.ts), with its own
 * concurrency (`PROMPTQ_WEBHOOK_CONCURRENCY`) and time limit (`PROMPTQ_WEBHOOK_TIMEOUT_MS`). Each
 * delivery's body is made at its first attempt — `{"type", "timestamp", "data": <the job view>}`,
 * once the job's final state is readable — and kept in the delivery, so every retry sends the same
 * bytes under the same `webhook-id`; each attempt is signed anew (its own `webhook-timestamp`) with
 * the tenant's secret for a tenant's job (none: dead-lettered), `PROMPTQ_WEBHOOK_SECRET` for a job
 * of no tenant. A 2xx delivers; another status, a network error or the timeout is retried with
 * backoff; a refused address, a redirect or no secret to sign with dead-letters at once. A tenant
 * whose sealed secret cannot be decrypted (`PROMPTQ_SECRETS_KEY` unset or changed) is not a tenant
 * without one — that would send unsigned, or dead-letter: its deliveries are held (delayed, no
 * attempt spent, `held` in `promptq webhooks list`), logged once per tenant, and go out once
 * `promptq tenants rotate-webhook-secret` re-sets it (or the key is restored) — for at most
 * `PROMPTQ_WEBHOOK_RETRY_PERIOD` after they were made, then dead-lettered like a delivery whose
 * retries ran out (`promptq webhooks retry` sends them again). A process
 * killed mid-delivery leaves the delivery to BullMQ's stalled check: another process (or the same
 * one restarted) delivers it.
 */

import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { PromptqConfig } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import { RepeatedLog } from '../../core/log-repeats.js';
import { type AddressPolicy, WebhookTargetError } from '../../events/webhooks/address-guard.js';
import type { PromptQueue } from '../../producer/queue.js';
import type { TenantWebhooks } from '../../store/webhook-secrets.js';
import { backoffDelay, type DeliveryData } from './deliveries.js';
import { postSigned } from './post.js';

export interface DelivererOptions {
  queue: PromptQueue;
  config: PromptqConfig;
  tenants: TenantWebhooks;
  policy: AddressPolicy;
  log: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The body of a delivery: the job view once final (waits up to `settleMs` for it). */
async function makeBody(d: DeliveryData, o: DelivererOptions): Promise<string> {
  const { queue } = o;
  const until = Date.now() + o.config.webhooks.settleMs;
  // Ids are per tenant: the delivery's tenant's job of that id, never another principal's.
  const ref = { id: d.jobId, tenant: d.tenant ?? undefined };
  let view = await queue.get(ref);
  while (view !== null && view.state !== 'completed' && view.state !== 'failed' && Date.now() < until) {
    await sleep(50);
    view = await queue.get(ref);
  }
  const data = view ?? { id: d.jobId, state: d.event === 'job.completed' ? 'completed' : 'failed' };
  return JSON.stringify({ type: d.event, timestamp: new Date().toISOString(), data });
}

/** How long a held delivery waits before it looks at its tenant's secret again. */
export const heldRecheckMs = (config: DelivererOptions['config']) =>
  Math.min(config.webhooks.backoffMaxMs, 60_000);

/** Hold a delivery whose tenant's secret cannot be read: delayed, no attempt spent, the reason kept. */
async function hold(
  job: Job<DeliveryData>,
  token: string | undefined,
  reason: string,
  o: Held,
): Promise<never> {
  const { tenant } = job.data;
  const held = `tenant "${tenant}": its webhook secret cannot be decrypted (${reason}); re-set it: promptq tenants rotate-webhook-secret ${tenant}`;
  // Held no longer than a failing delivery is retried: then dead-lettered (`promptq webhooks retry`
  // sends it again once the secret is re-set), so held deliveries cannot pile up in Redis.
  const periodS = o.config.webhooks.retryPeriodSeconds;
  if (Date.now() - job.timestamp >= periodS * 1000) {
    if (job.data.held !== undefined) await job.updateData({ ...job.data, held: undefined });
    throw new UnrecoverableError(
      `${held}; held for PROMPTQ_WEBHOOK_RETRY_PERIOD (${periodS} s): dead-lettered`,
    );
  }
  if (job.data.held !== held) await job.updateData({ ...job.data, held });
  if (!o.loggedHeld.has(`${tenant}\0${reason}`)) {
    o.loggedHeld.add(`${tenant}\0${reason}`);
    o.log.error('webhook deliveries held', {
      tenant,
      reason,
      fix: `promptq tenants rotate-webhook-secret ${tenant}`,
    });
  }
  await job.moveToDelayed(Date.now() + heldRecheckMs(o.config), token);
  throw new DelayedError(held);
}

type Held = DelivererOptions & { loggedHeld: Set<string> };

/** The secret that signs the delivery (undefined: none), or the delivery is held. */
async function secretOf(job: Job<DeliveryData>, token: string | undefined, o: Held) {
  // A tenant's job is signed with the tenant's secret only: never the server's, which would let a
  // tenant have its own bodies signed as the admin's and sent to the admin's receivers.
  const { tenant } = job.data;
  if (tenant === null) return o.config.webhooks.secret;
  const found = await o.tenants.get(tenant);
  if (found.unreadable !== undefined) return hold(job, token, found.unreadable, o);
  if (job.data.held !== undefined) await job.updateData({ ...job.data, held: undefined });
  return found.secret ?? undefined;
}

async function deliver(
  job: Job<DeliveryData>,
  token: string | undefined,
  o: Held,
): Promise<{ status: number }> {
  let { body } = job.data;
  if (body === undefined) {
    body = await makeBody(job.data, o);
    await job.updateData({ ...job.data, body });
  }
  const { tenant } = job.data;
  const secret = await secretOf(job, token, o);
  if (secret === undefined) {
    throw new UnrecoverableError(
      tenant === null
        ? 'no secret to sign with: set PROMPTQ_WEBHOOK_SECRET'
        : `tenant "${tenant}" has no webhook secret: give it one (promptq tenants rotate-webhook-secret)`,
    );
  }
  let answer: Awaited<ReturnType<typeof postSigned>>;
  try {
    answer = await postSigned(
      { url: job.data.url, webhookId: job.data.webhookId, body, secret },
      o.policy,
      o.config.webhooks.deliveryTimeoutMs,
    );
  } catch (err) {
    if (err instanceof WebhookTargetError) throw new UnrecoverableError(`refused: ${err.message}`);
    throw new Error(`not delivered: ${(err as Error).message}`);
  }
  if (answer.status >= 200 && answer.status < 300) return { status: answer.status };
  if (answer.status >= 300 && answer.status < 400) {
    throw new UnrecoverableError(`the receiver redirected (${answer.status}); redirects are not followed`);
  }
  throw new Error(`the receiver answered ${answer.status}`);
}

/** A lost or refused connection to Redis (the connection's own error log covers it). */
const connectionError = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed|connect ETIMEDOUT/;

/** Start delivering; `close(force)` stops (a forced close leaves in-flight deliveries to the stalled check). */
export function startDeliverer(o: DelivererOptions): { close(force?: boolean): Promise<void> } {
  const { config, queue, log } = o;
  const held: Held = { ...o, loggedHeld: new Set() };
  const worker = new Worker<DeliveryData>(
    queue.keys.webhookQueue,
    (job, token) => deliver(job, token, held),
    {
      connection: queue.connection,
      prefix: queue.keys.prefix,
      concurrency: config.webhooks.concurrency,
      lockDuration: config.worker.lockDurationMs,
      stalledInterval: config.worker.stalledIntervalMs,
      maxStalledCount: config.worker.maxStalledCount,
      settings: { backoffStrategy: (made) => backoffDelay(config.webhooks, made) },
    },
  );
  // Redis away is the connection's to report (service.ts: once, then summarised); anything else once
  // per kind, then summarised.
  const repeats = new RepeatedLog(log, { intervalMs: config.log.repeatIntervalMs });
  worker.on('error', (err) => {
    if (queue.connection.status !== 'ready' || connectionError.test(err.message)) return;
    repeats.warn('webhook worker error', { error: err.message });
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const fields = { webhook_id: job.data.webhookId, job_id: job.data.jobId, attempt: job.attemptsMade };
    const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    log.warn(final ? 'webhook dead-lettered' : 'webhook delivery failed', { ...fields, error: err.message });
  });
  return {
    async close(force = false) {
      await worker.close(force);
    },
  };
}
