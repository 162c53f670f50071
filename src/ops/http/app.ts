/**
 * The express app: JSON API, Bull Board, /metrics, health. Handlers are plain functions
 * `(req) → {status, body}` in one route table; one wrapper turns them into express handlers and
 * one error middleware shapes every error as `{"error":{"type","message","details"}}`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ValidationError } from '../../core/job.js';
import { Logger } from '../../core/log.js';
import type { HttpConfig } from '../../core/settings.js';
import { JobConflictError } from '../../producer/conflicts.js';
import type { PromptQueue } from '../../producer/queue.js';
import { TooManyWaitersError } from '../../producer/waiters.js';
import type { RedisConnection as Redis } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';
import { probeQueueKeys } from '../../store/probe.js';
import { queueKeyProblems } from '../../store/queue-health.js';
import { TenantStore } from '../../store/tenant-store.js';
import { dashboardRouter } from '../dashboard/router.js';
import { Metrics } from '../metrics/metrics.js';
import { serverSpan } from '../telemetry/http-span.js';
import { apiRequestGuard, isBrowserPage } from './csrf.js';
import { checkRawDepth } from './depth-guard.js';
import { HttpError, statusOf } from './errors.js';
import { openApiDocument } from './openapi.js';
import { mayAccess, principalOf, scopeJobBody, tenantAuth, tenantRoutes } from './tenant-auth.js';

export { type ErrorType, HttpError } from './errors.js';

export interface AppOptions {
  queue: PromptQueue;
  /** Where `/metrics` reads from; the worker's metrics when it runs in this process. @defaultValue a new {@link Metrics} */
  metrics?: Metrics | undefined;
  /** @defaultValue a logger at the queue's `log.level` */
  log?: Logger | undefined;
  /**
   * Tokens, Bull Board, body and wait limits (`config.http`): `authToken` guards everything but
   * /healthz and /readyz. @defaultValue `queue.config.http`
   */
  http?: HttpConfig | undefined;
}

interface Reply {
  status: number;
  body: unknown;
}
type Handler = (req: Request) => Promise<Reply>;

function tokenMatches(given: string, expected: string): boolean {
  // Digests first: equal lengths for timingSafeEqual, so not even the token's length shows in timing.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Accept `Authorization: Bearer T`, or (when `basic`) Basic auth with T as the password (browsers). */
function presentedToken(h: string | undefined, basic: boolean): string | undefined {
  if (!h) return undefined;
  const [scheme, value] = h.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (basic && scheme?.toLowerCase() === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}

/**
 * Does an `Authorization` header carry `expected` (Bearer, or Basic with it as the password unless
 * `basic` is false: the API takes Bearer only, csrf.ts)?
 */
export function bearerMatches(header: string | undefined, expected: string, basic = true): boolean {
  const t = presentedToken(header, basic);
  return t !== undefined && tokenMatches(t, expected);
}

/**
 * May this request read `/metrics`? Open when no token is configured; otherwise either the API
 * token or the metrics token (so Prometheus can hold a token that opens nothing else).
 */
export function metricsAllowed(
  header: string | undefined,
  tokens: { authToken?: string | undefined; metricsToken?: string | undefined },
): boolean {
  const accepted = [tokens.authToken, tokens.metricsToken].filter((t): t is string => t !== undefined);
  return accepted.length === 0 || accepted.some((t) => bearerMatches(header, t));
}

export function createApp(opts: AppOptions): express.Express {
  const { queue } = opts;
  const http = opts.http ?? queue.config.http;
  const log = opts.log ?? new Logger(queue.config.log.level);
  const metrics = opts.metrics ?? new Metrics();
  const maxWait = http.maxWaitSeconds;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  const requireRedis = () => {
    if (queue.connection.status !== 'ready')
      throw new HttpError('unavailable', 'Redis is not reachable; try again');
  };

  const tenants = new TenantStore(queue.connection, queue.keys);
  const routes: Array<{ method: 'get' | 'post' | 'patch'; path: string; handler: Handler }> = [
    {
      method: 'post',
      path: '/v1/jobs',
      handler: async (req) => {
        requireRedis();
        const body = scopeJobBody(principalOf(req), req.body);
        const r = await queue.add(body).catch(async (err: unknown) => {
          // A clash with another tenant's job is that tenant's business: the same 403 as below.
          if (err instanceof JobConflictError && principalOf(req)?.kind === 'tenant') {
            const id = (body as { id?: unknown } | null)?.id;
            const existing = typeof id === 'string' ? await queue.get(id) : null;
            if (existing && !mayAccess(principalOf(req), existing.request))
              throw new HttpError('forbidden', `id: "${id}" is taken by another tenant's job`);
          }
          throw err;
        });
        // The id is another tenant's job: say so, show nothing of it.
        if (!r.created && principalOf(req)?.kind === 'tenant') {
          const existing = await queue.get(r.id);
          if (existing && !mayAccess(principalOf(req), existing.request))
            throw new HttpError('forbidden', `id: "${r.id}" is taken by another tenant's job`);
        }
        return { status: r.created ? 202 : 200, body: { id: r.id, state: r.state } };
      },
    },
    {
      method: 'post',
      path: '/v1/jobs/batch',
      handler: async (req) => {
        requireRedis();
        const body = req.body as { jobs?: unknown } | undefined;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new HttpError('invalid_request', 'body: must be {"jobs":[...]}');
        }
        const extra = Object.keys(body).filter((k) => k !== 'jobs');
        if (extra.length > 0) throw new HttpError('invalid_request', `${extra[0]}: unknown field`);
        const jobs = Array.isArray(body.jobs)
          ? body.jobs.map((j, i) => scopeJobBody(principalOf(req), j, `jobs.${i}.tenant_id`))
          : body.jobs;
        return { status: 202, body: await queue.addBatch(jobs) };
      },
    },
    {
      method: 'get',
      path: '/v1/jobs/:id',
      handler: async (req) => {
        requireRedis();
        const id = String(req.params.id);
        const rawWait = req.query.wait;
        let view: Awaited<ReturnType<PromptQueue['get']>>;
        if (rawWait === undefined) {
          view = await queue.get(id);
        } else {
          const s = String(rawWait);
          if (!/^\d+(\.\d+)?$/.test(s) || Number(s) > maxWait) {
            throw new HttpError('invalid_request', `wait: must be a number of seconds from 0 to ${maxWait}`);
          }
          // Another tenant's job answers 404 at once, not after the wait (its timing says nothing).
          const first = principalOf(req)?.kind === 'tenant' ? await queue.get(id) : undefined;
          if (first !== undefined && (!first || !mayAccess(principalOf(req), first.request)))
            throw new HttpError('not_found', `no job with id "${id}"`);
          const abort = new AbortController();
          req.on('close', () => abort.abort());
          view = await queue.wait(id, Number(s) * 1000, abort.signal);
        }
        // Another tenant's job is, to a tenant, no job at all.
        if (!view || !mayAccess(principalOf(req), view.request))
          throw new HttpError('not_found', `no job with id "${id}"`);
        return { status: 200, body: view };
      },
    },
    ...tenantRoutes(tenants),
  ];

  mountOps(app, {
    metrics,
    log,
    http,
    connection: queue.connection,
    keys: queue.keys,
    probe: () => probeQueueKeys(queue.connection, queue.keys),
  });
  app.use(
    '/v1',
    tenantAuth({
      adminToken: http.authToken,
      // Bearer only on /v1: a browser's Basic credentials must not act there (csrf.ts).
      isAdmin: (h) => http.authToken !== undefined && bearerMatches(h, http.authToken, false),
      tenants,
      redisReady: () => queue.connection.status === 'ready',
    }),
  );
  requireToken(app, http.authToken);

  app.use(dashboardRouter({ connection: queue.connection, keys: queue.keys }));
  app.get(
    '/openapi.json',
    wrap(async () => ({
      status: 200,
      body: openApiDocument({ maxBatch: queue.config.jobs.maxBatch, maxWaitSeconds: maxWait }),
    })),
  );

  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    queues: [new BullMQAdapter(queue.queue, { readOnlyMode: http.boardReadOnly })],
    serverAdapter: board,
  });
  app.use('/admin/queues', board.getRouter());

  app.use('/v1', apiRequestGuard);
  app.use(express.json({ limit: http.bodyLimit, strict: false, type: () => true, verify: checkRawDepth }));
  for (const r of routes.filter((r) => r.path.startsWith('/v1/')))
    app[r.method](
      r.path,
      wrap(serverSpan(r.method, r.path, r.handler, (e) => statusOf[toHttpError(e).type])),
    );

  finish(app, log);
  return app;
}

/** What every promptq process serves, the API or a worker alone. */
export interface OpsOptions {
  connection: Redis;
  /** The queue whose BullMQ keys `/readyz` checks. */
  keys?: Keyspace | undefined;
  metrics: Metrics;
  log: Logger;
  /**
   * `authToken` guards everything but /healthz and /readyz (and opens /metrics too); `metricsToken`
   * opens `/metrics` only; `/readyz` gives up after `readyTimeoutMs` (`config.http`).
   */
  http: Pick<HttpConfig, 'authToken' | 'metricsToken' | 'readyTimeoutMs'>;
  /**
   * Readiness beyond PING: rejects when the worker could not run its scripts (e.g. the queue's keys
   * in store/probe.ts). @defaultValue PING only
   */
  probe?: (() => Promise<void>) | undefined;
}

/**
 * A worker alone: /healthz, /readyz and /metrics, with the same auth, error shape and 404 as the
 * API.
 */
export function createOpsApp(o: OpsOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  mountOps(app, o);
  requireToken(app, o.http.authToken);
  finish(app, o.log);
  return app;
}

/** Liveness, readiness (Redis answers) and /metrics; health needs no token, /metrics its own rule. */
function mountOps(app: express.Express, o: OpsOptions): void {
  app.get(
    '/healthz',
    wrap(async () => ({ status: 200, body: { ok: true } })),
  );
  app.get(
    '/readyz',
    wrap(async () => {
      try {
        if (o.connection.status !== 'ready') throw new Error(o.connection.status);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          o.probe ? o.probe() : o.connection.ping(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('probe timeout')), o.http.readyTimeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
        const broken = await brokenQueueKeys(o);
        if (broken.length > 0) return { status: 503, body: { ok: false, redis: 'ready', queue: broken } };
        return { status: 200, body: { ok: true, redis: 'ready' } };
      } catch (err) {
        return { status: 503, body: { ok: false, redis: (err as Error).message } };
      }
    }),
  );
  app.get('/metrics', async (req, res) => {
    if (!metricsAllowed(req.headers.authorization, o.http)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return sendError(res, new HttpError('unauthorized', 'missing or wrong bearer token'));
    }
    res.setHeader('content-type', o.metrics.registry.contentType);
    res.send(await o.metrics.text());
  });
}

/** Redis answers, but a queue key of the wrong type would fail every add (`WRONGTYPE`). */
async function brokenQueueKeys(o: OpsOptions): Promise<string[]> {
  return o.keys ? queueKeyProblems(o.connection, o.keys) : [];
}

/** Everything mounted after this needs the token (when one is set). */
function requireToken(app: express.Express, token: string | undefined): void {
  if (!token) return;
  app.use((req, res, next) => {
    // /v1 has its own check (tenant-auth.ts); everything else is the admin's. Basic auth (what a
    // browser keeps and sends by itself) opens the pages only: csrf.ts.
    const page = isBrowserPage(req.path);
    if (principalOf(req) !== undefined || bearerMatches(req.headers.authorization, token, page))
      return next();
    // Browsers only prompt for Basic: the pages (Bull Board, dashboard) ask for it.
    if (page) res.setHeader('WWW-Authenticate', 'Basic realm="promptq"');
    else res.setHeader('WWW-Authenticate', 'Bearer');
    sendError(res, new HttpError('unauthorized', 'missing or wrong bearer token'));
  });
}

/** The 404 for unknown routes and the one error middleware. */
function finish(app: express.Express, log: Logger): void {
  app.use((req, _res, next) => next(new HttpError('not_found', `no route ${req.method} ${req.path}`)));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = toHttpError(err);
    if (e.type === 'internal') log.error('request failed', { error: (err as Error)?.message });
    sendError(res, e);
  });
}

function wrap(handler: Handler) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const { status, body } = await handler(req);
      res.status(status).json(body);
    } catch (err) {
      next(err);
    }
  };
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof ValidationError) return new HttpError('invalid_request', err.message, err.problems);
  if (err instanceof JobConflictError) return new HttpError('conflict', err.message, err.problems);
  // Past PROMPTQ_MAX_WAITERS: the client retries after a second (or reads without waiting).
  if (err instanceof TooManyWaitersError)
    return new HttpError('too_many_requests', err.message, { max_waiters: err.max }, { 'Retry-After': '1' });
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.parse.failed')
    return new HttpError('invalid_json', `body is not valid JSON: ${e.message}`);
  if (e?.type === 'entity.too.large')
    return new HttpError('payload_too_large', 'body is larger than the limit');
  if (e?.status !== undefined && e.status >= 400 && e.status < 500) {
    return new HttpError('invalid_request', e.message ?? 'bad request');
  }
  return new HttpError('internal', 'internal error');
}

function sendError(res: Response, e: HttpError): void {
  for (const [name, value] of Object.entries(e.headers ?? {})) res.setHeader(name, value);
  const error: Record<string, unknown> = { type: e.type, message: e.message };
  if (e.details !== undefined) error.details = e.details;
  res.status(statusOf[e.type]).json({ error });
}
