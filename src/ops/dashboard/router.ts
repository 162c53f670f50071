/**
 * The built-in dashboard: `GET /dashboard` (a self-contained HTML page, no CDN) and
 * `GET /dashboard/data?range=1h|6h|24h[&tenant=T]` (the JSON it draws). Mounted by the express app
 * after its auth middleware, so it is behind the same token. `tenant` narrows the tenant figures, the
 * slowest calls and the budgets to one tenant (the per-model figures are queue-wide rollups).
 */

import { type RequestHandler, Router } from 'express';
import type { RedisConnection as Redis } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';
import { TenantStore } from '../../store/tenant-store.js';
import { HttpError } from '../http/errors.js';
import { dashboardHtml } from './page.js';
import { type RangeName, ranges, readDashboard } from './summary.js';

export interface DashboardRouterOptions {
  connection: Redis;
  /** The queue's keys (hash-tagged on a cluster). */
  keys: Keyspace;
}

export function dashboardRouter(opts: DashboardRouterOptions): Router {
  const router = Router();
  const store = new TenantStore(opts.connection, opts.keys);
  const page: RequestHandler = (_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    // The page carries its own script and style; nothing else may run or load.
    res.setHeader(
      'content-security-policy',
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
    );
    res.send(dashboardHtml(opts.keys.queue));
  };
  router.get('/dashboard', page);
  router.get('/dashboard/', page);
  router.get('/dashboard/data', async (req, res, next) => {
    try {
      const range = String(req.query.range ?? '1h');
      if (!Object.hasOwn(ranges, range)) {
        throw new HttpError(
          'invalid_request',
          `range: expected one of ${Object.keys(ranges).join(', ')}, got "${range}"`,
        );
      }
      const tenant = req.query.tenant === undefined ? undefined : String(req.query.tenant);
      const [d, tenants] = await Promise.all([
        readDashboard(opts.connection, opts.keys, ranges[range as RangeName]),
        store.list(),
      ]);
      const budgets = tenants.map((t) => ({
        tenant: t.name,
        daily_usd: t.dailyUsd,
        monthly_usd: t.monthlyUsd,
        spent_usd: t.spentUsd,
      }));
      // Every tenant seen or registered: the page's filter offers them.
      const names = [...new Set([...Object.keys(d.tenants), ...budgets.map((b) => b.tenant)])].sort();
      const all = { ...d, budgets, tenant_names: names };
      if (tenant === undefined) return res.json(all);
      res.json({
        ...all,
        tenant,
        tenants: Object.fromEntries(Object.entries(d.tenants).filter(([name]) => name === tenant)),
        slowest: d.slowest.filter((c) => c.tenant === tenant),
        budgets: budgets.filter((b) => b.tenant === tenant),
      });
    } catch (err) {
      next(err);
    }
  });
  return router;
}
