import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { handleAdmin, statsSnapshot } from './admin-routes.js';
import { handleCountTokens, handleListModels } from './api-routes.js';
import { BatchStore } from './batches.js';
import { handleBatches } from './batches-routes.js';
import type { SimContext } from './context.js';
import { ERROR_DEFAULTS, errorBody } from './errors.js';
import { validateScript } from './faults.js';
import { newRequestId, sendJson } from './http-util.js';
import { handleMessages } from './messages-handler.js';
import type { SimulatorOptions } from './options.js';
import { PromptCache } from './prompt-cache.js';
import { handleProviderRoutes, resetProviderQuotas } from './provider-routes.js';
import { RateLimiter } from './rate-limiter.js';
import { resolveOptions } from './resolve-options.js';
import { seededRng } from './rng.js';
import { StatsRecorder } from './stats.js';
import type { LimitSet, ScriptedFault, SimulatorStats } from './types.js';

/** A running Anthropic-compatible API simulator. */
export interface Simulator {
  /** Base URL, e.g. `http://127.0.0.1:PORT` (pass as the SDK's `baseURL`). */
  readonly url: string;
  readonly port: number;
  /** Ground-truth counters (also served at `GET /__stats`). */
  stats(): SimulatorStats;
  /**
   * Changes the enforced (and announced) limits mid-run, for one group or, without `group`, for
   * the defaults and every group. Usage already consumed stays consumed.
   */
  setLimits(limits: Partial<LimitSet>, group?: string): void;
  /** Queues deterministic outcomes for the next `POST /v1/messages` requests (FIFO). */
  script(faults: ScriptedFault[]): void;
  /** Refills buckets, clears stats, script and prompt cache, and re-seeds the PRNGs. */
  reset(): void;
  /** Closes the server and destroys open sockets (hung requests included). */
  close(): Promise<void>;
}

async function route(ctx: SimContext, req: IncomingMessage, res: ServerResponse, reset: () => void) {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
  if (await handleAdmin(ctx, req, res, path, reset)) return;
  if (path === '/healthz' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
  const requestId = newRequestId();
  if (path === '/v1/messages' && req.method === 'POST') return handleMessages(ctx, req, res, requestId);
  if (path === '/v1/messages/count_tokens' && req.method === 'POST') {
    return handleCountTokens(ctx, req, res, requestId);
  }
  if (path === '/v1/models' && req.method === 'GET') return handleListModels(ctx, req, res, requestId);
  if (await handleBatches(ctx, req, res, path, requestId)) return;
  if (await handleProviderRoutes(ctx, req, res, path, requestId)) return;
  req.resume();
  const known = ['/v1/messages', '/v1/messages/count_tokens', '/v1/models'].includes(path);
  const status = known ? 405 : 404;
  const fallback = ERROR_DEFAULTS[status] ?? { type: 'not_found_error', message: 'Not found' };
  sendJson(res, status, errorBody(fallback.type, fallback.message, requestId), { 'request-id': requestId });
}

/**
 * Starts an Anthropic-compatible Messages API on `host:port` (default 127.0.0.1 and a free port).
 * Rejects with a `SimulatorOptionError` naming the field for invalid options.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const opts = resolveOptions(options);
  const cache = new PromptCache();
  const ctx: SimContext = {
    opts,
    limiter: new RateLimiter({
      defaults: opts.limits,
      groupLimits: opts.groupLimits,
      shortIntervalSeconds: opts.shortIntervalSeconds,
      rateLimitHeaders: opts.rateLimitHeaders,
      startEmpty: opts.startEmpty,
      now: opts.now,
    }),
    cache,
    stats: new StatsRecorder(),
    script: [],
    faultRng: seededRng(opts.seed),
    // A different stream for lengths, so adding faults does not reshuffle the answers.
    outputRng: seededRng(opts.seed ^ 0x5bd1e995),
    batches: new BatchStore(opts, opts.batches, cache),
  };
  const reset = () => {
    ctx.limiter.reset();
    ctx.stats.reset();
    ctx.cache.clear();
    ctx.script.length = 0;
    ctx.faultRng = seededRng(opts.seed);
    ctx.outputRng = seededRng(opts.seed ^ 0x5bd1e995);
    ctx.batches.reset();
    resetProviderQuotas(ctx);
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    route(ctx, req, res, reset).catch(() => {
      // An unexpected bug must not take the simulator down; answer like the real API's 500.
      if (!res.headersSent) sendJson(res, 500, errorBody('api_error', 'Internal server error'));
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // A hung request must stay hung until the client gives up, not until Node's own timeouts.
  server.requestTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    stats: () => statsSnapshot(ctx),
    setLimits: (limits, group) => ctx.limiter.setLimits(limits, group),
    script: (faults) => {
      ctx.script.push(...validateScript(faults));
    },
    reset,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
