/**
 * The express app: JSON API, Bull Board, /metrics, health. The API's handlers are plain functions
 * `(context, req) → {status, body}` behind one route table (routes.ts); one wrapper turns them into
 * express handlers and one error middleware shapes every error as
 * `{"error":{"type","message","details"}}`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ValidationError } from '../../core/job.js';
import { Logger } from '../../core/log.js';
import { RepeatedLog } from '../../core/log-repeats.js';
import type { HttpConfig } from '../../core/settings.js';
import { JobConflictError } from '../../producer/conflicts.js';
import type { PromptQueue } from '../../producer/queue.js';
import { TooManyWaitersError } from '../../producer/waiters.js';
import type { RedisConnection as Redis } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';
import { checkQueueScripts, queueKeyProblems } from '../../store/queue-health.js';
import {
  RedisUnavailableError,
  redisRefusal,
  whenReady,
  withinRedisDeadline,
} from '../../store/redis-deadline.js';
import { TenantStore } from '../../store/tenant-store.js';
import { dashboardRouter } from '../dashboard/router.js';
import { Metrics } from '../metrics/metrics.js';
import { modelCatalogOf } from '../metrics/model-labels.js';
import { serverSpan } from '../telemetry/http-span.js';
import { apiRequestGuard, isBrowserPage, loopbackHostGuard, stateChangeGuard } from './csrf.js';
import { checkRawDepth } from './depth-guard.js';
import { HttpError, statusOf } from './errors.js';
import type { Reply, RouteContext } from './handler.js';
import { getJob } from './job-handlers.js';
import { openApiDocument } from './openapi.js';
import { apiRoutes, streamRoutes } from './routes.js';
import { principalOf, tenantAuth } from './tenant-auth.js';

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
  const metrics =
    opts.metrics ?? new Metrics({ labels: queue.config.labels, models: modelCatalogOf(queue.config) });
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const tenants = new TenantStore(queue.connection, queue.keys);

  guardBrowsers(app, http.authToken);
  mountOps(app, { metrics, log, http, connection: queue.connection, keys: queue.keys });
  app.use(
    '/v1',
    tenantAuth({
      adminToken: http.authToken,
      // Bearer only on /v1: a browser's Basic credentials must not act there (csrf.ts).
      isAdmin: (h) => http.authToken !== undefined && bearerMatches(h, http.authToken, false),
      tenants,
      // A token cannot be checked without Redis: wait for it as the route would.
      whenRedis: (req) =>
        whenReady(
          queue.connection,
          req.method === 'POST' ? queue.config.redis.enqueueTimeoutMs : queue.config.redis.requestDeadlineMs,
        ),
    }),
  );
  requireToken(app, http.authToken);

  app.use(dashboardRouter({ connection: queue.connection, keys: queue.keys }));
  const limits = { maxBatch: queue.config.jobs.maxBatch, maxWaitSeconds: http.maxWaitSeconds };
  app.get(
    '/openapi.json',
    wrap(async () => ({ status: 200, body: openApiDocument(limits) })),
  );
  mountBoard(app, queue, http.boardReadOnly);

  app.use('/v1', apiRequestGuard);
  app.use(express.json({ limit: http.bodyLimit, strict: false, type: () => true, verify: checkRawDepth }));
  mountRoutes(app, { queue, tenants, maxWaitSeconds: http.maxWaitSeconds });

  finish(app, log, queue.config.log.repeatIntervalMs);
  return app;
}

/** Bull Board under /admin/queues. */
function mountBoard(app: express.Express, queue: PromptQueue, readOnly: boolean): void {
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    queues: [new BullMQAdapter(queue.queue, { readOnlyMode: readOnly })],
    serverAdapter: board,
  });
  app.use('/admin/queues', board.getRouter());
}

/** The route table (routes.ts), each handler in a server span. */
function mountRoutes(app: express.Express, context: RouteContext): void {
  for (const route of apiRoutes) {
    const { connection, config } = context.queue;
    // Every route answers within PROMPTQ_REDIS_TIMEOUT_MS while Redis is away (503, Retry-After),
    // but enqueues (their own, longer deadline) and long polls (getJob waits for Redis first; a
    // `?wait=` on another route is no long poll, and gets the deadline).
    const longPoll = route.handler === getJob;
    const handler = (req: Request) =>
      route.redisDeadline === 'enqueue' || (longPoll && req.query.wait !== undefined)
        ? route.handler(context, req)
        : withinRedisDeadline(connection, config.redis.requestDeadlineMs, () => route.handler(context, req));
    app[route.method](
      route.path,
      wrap(serverSpan(route.method, route.path, handler, (e) => statusOf[toHttpError(e).type])),
    );
  }
  for (const route of streamRoutes) {
    app.get(route.path, (req, res, next) => void route.handler(context, req, res).catch(next));
  }
}

/** What every promptq process serves, the API or a worker alone. */
export interface OpsOptions {
  connection: Redis;
  /**
   * The queue `/readyz` checks (store/queue-health.ts): the worker's kind of script runs on its
   * keys, and BullMQ's keys have their types. @defaultValue none: PING only
   */
  keys?: Keyspace | undefined;
  metrics: Metrics;
  log: Logger;
  /**
   * `authToken` guards everything but /healthz and /readyz (and opens /metrics too); `metricsToken`
   * opens `/metrics` only; `/readyz` gives up after `readyTimeoutMs` (`config.http`).
   */
  http: Pick<HttpConfig, 'authToken' | 'metricsToken' | 'readyTimeoutMs'>;
}

/**
 * A worker alone: /healthz, /readyz and /metrics, with the same auth, error shape and 404 as the
 * API.
 */
export function createOpsApp(options: OpsOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  guardBrowsers(app, options.http.authToken);
  mountOps(app, options);
  requireToken(app, options.http.authToken);
  finish(app, options.log, undefined);
  return app;
}

/** Before every route: loopback names only without a token, no cross-site state change (csrf.ts). */
function guardBrowsers(app: express.Express, token: string | undefined): void {
  app.use(loopbackHostGuard(token));
  app.use(stateChangeGuard);
}

/** Liveness, readiness (Redis answers) and /metrics; health needs no token, /metrics its own rule. */
function mountOps(app: express.Express, options: OpsOptions): void {
  app.get(
    '/healthz',
    wrap(async () => ({ status: 200, body: { ok: true } })),
  );
  app.get(
    '/readyz',
    wrap(async () => {
      try {
        if (options.connection.status !== 'ready') throw new Error(options.connection.status);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          options.keys ? checkQueueScripts(options.connection, options.keys) : options.connection.ping(),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error('readiness check timeout')),
              options.http.readyTimeoutMs,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        const broken = await brokenQueueKeys(options);
        if (broken.length > 0) return { status: 503, body: { ok: false, redis: 'ready', queue: broken } };
        return { status: 200, body: { ok: true, redis: 'ready' } };
      } catch (err) {
        return { status: 503, body: { ok: false, redis: (err as Error).message } };
      }
    }),
  );
  app.get('/metrics', async (req, res) => {
    if (!metricsAllowed(req.headers.authorization, options.http)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return sendError(res, new HttpError('unauthorized', 'missing or wrong bearer token'));
    }
    res.setHeader('content-type', options.metrics.registry.contentType);
    res.send(await options.metrics.text());
  });
}

/** Redis answers, but a queue key of the wrong type would fail every add (`WRONGTYPE`). */
async function brokenQueueKeys(options: OpsOptions): Promise<string[]> {
  return options.keys ? queueKeyProblems(options.connection, options.keys) : [];
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

/**
 * The 404 for unknown routes and the one error middleware. Redis being away or refusing (503) is
 * logged once, then counted (core/log-repeats.ts): an outage must not write a line per request.
 */
function finish(app: express.Express, log: Logger, repeatIntervalMs: number | undefined): void {
  const repeats =
    repeatIntervalMs === undefined ? undefined : new RepeatedLog(log, { intervalMs: repeatIntervalMs });
  app.use((req, _res, next) => next(new HttpError('not_found', `no route ${req.method} ${req.path}`)));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = toHttpError(err);
    if (e.type === 'internal') log.error('request failed', { error: (err as Error)?.message });
    else if (e.type === 'unavailable' && repeats)
      repeats.warn('request refused: Redis unavailable', { error: e.message });
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
  // Redis away past the request's deadline, or refusing for a passing reason (OOM, READONLY…).
  if (err instanceof RedisUnavailableError)
    return new HttpError('unavailable', err.message, undefined, {
      'Retry-After': String(err.retryAfterSeconds),
    });
  const refused = redisRefusal(err);
  if (refused !== undefined)
    return new HttpError('unavailable', `Redis refused the command (${refused}); try again`, undefined, {
      'Retry-After': '1',
    });
  // Past PROMPTQ_MAX_WAITERS (or the tenant's own cap): the client retries after a second (or reads
  // without waiting).
  if (err instanceof TooManyWaitersError) {
    const details = err.scope === 'tenant' ? { max_waiters_per_tenant: err.max } : { max_waiters: err.max };
    return new HttpError('too_many_requests', err.message, details, { 'Retry-After': '1' });
  }
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
