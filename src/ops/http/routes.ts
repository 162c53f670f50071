/**
 * The API's route table: each route names its method, its path and its handler (handler.ts: a plain
 * function `(context, req) → {status, body}` that throws an `HttpError` to refuse). app.ts mounts
 * the table (one wrapper, one span, one error middleware); the handlers live in job-handlers.ts and
 * tenant-handlers.ts.
 */

import { allEvents, jobEvents, type StreamHandler } from '../streams/routes.js';
import type { Route } from './handler.js';
import { addJob, addJobBatch, getJob } from './job-handlers.js';
import {
  addTenant,
  getTenant,
  listTenants,
  revokeTenant,
  rotateTenantToken,
  updateTenant,
} from './tenant-handlers.js';

/** Every `/v1` route (docs/reference/http-api.md). */
export const apiRoutes: readonly Route[] = [
  { method: 'post', path: '/v1/jobs', handler: addJob, redisDeadline: 'enqueue' },
  { method: 'post', path: '/v1/jobs/batch', handler: addJobBatch, redisDeadline: 'enqueue' },
  { method: 'get', path: '/v1/jobs/:id', handler: getJob },
  { method: 'get', path: '/v1/tenants', handler: listTenants },
  { method: 'post', path: '/v1/tenants', handler: addTenant },
  { method: 'get', path: '/v1/tenants/:name', handler: getTenant },
  { method: 'patch', path: '/v1/tenants/:name', handler: updateTenant },
  { method: 'post', path: '/v1/tenants/:name/rotate', handler: rotateTenantToken },
  { method: 'post', path: '/v1/tenants/:name/revoke', handler: revokeTenant },
];

/** The event stream routes (Server-Sent Events, ops/streams/routes.ts): they write the response themselves. */
export const streamRoutes: ReadonlyArray<{ path: string; handler: StreamHandler }> = [
  { path: '/v1/jobs/:id/events', handler: jobEvents },
  { path: '/v1/events', handler: allEvents },
];
