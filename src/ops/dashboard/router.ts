/**
 * The built-in dashboard: `GET /dashboard` (a self-contained HTML page, no CDN) and
 * `GET /dashboard/data?range=1h|6h|24h` (the JSON it draws). Mounted by the express app after its
 * auth middleware, so it is behind the same token.
 */

import { type RequestHandler, Router } from 'express';
import type { RedisConnection as Redis } from '../../store/connection.js';
import type { QueueKeys } from '../../store/keys.js';
import { HttpError } from '../http/errors.js';
import { dashboardHtml } from './page.js';
import { type RangeName, ranges, readDashboard } from './summary.js';

export interface DashboardRouterOptions {
  connection: Redis;
  queue: string;
  /** The queue's keys (hash-tagged on a cluster). @defaultValue `queueKeys(queue)` */
  keys?: QueueKeys | undefined;
}

export function dashboardRouter(opts: DashboardRouterOptions): Router {
  const router = Router();
  const page: RequestHandler = (_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    // The page carries its own script and style; nothing else may run or load.
    res.setHeader(
      'content-security-policy',
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
    );
    res.send(dashboardHtml(opts.queue));
  };
  router.get('/dashboard', page);
  router.get('/dashboard/', page);
  router.get('/dashboard/data', async (req, res, next) => {
    try {
      const range = String(req.query.range ?? '1h');
      if (!(range in ranges)) {
        throw new HttpError(
          'invalid_request',
          `range: expected one of ${Object.keys(ranges).join(', ')}, got "${range}"`,
        );
      }
      res.json(await readDashboard(opts.connection, opts.keys ?? opts.queue, ranges[range as RangeName]));
    } catch (err) {
      next(err);
    }
  });
  return router;
}
