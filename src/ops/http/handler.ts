/** What an API handler is: a plain function of the request that answers a status and a JSON body. */
import type { Request } from 'express';
import type { PromptQueue } from '../../producer/queue.js';
import type { TenantStore } from '../../store/tenant-store.js';

/** What a handler answers: the status and the JSON body. */
export interface Reply {
  status: number;
  body: unknown;
}

/** What the handlers work on. */
export interface RouteContext {
  queue: PromptQueue;
  tenants: TenantStore;
  /** Longest `?wait=` in seconds. */
  maxWaitSeconds: number;
}

export type Handler = (context: RouteContext, req: Request) => Promise<Reply>;

export interface Route {
  method: 'get' | 'post' | 'patch';
  path: string;
  handler: Handler;
  /**
   * How long the route may wait for Redis: `enqueue` (PROMPTQ_ENQUEUE_TIMEOUT_MS, the queue's own
   * deadline: it rides through a failover) or, by default, PROMPTQ_REDIS_TIMEOUT_MS (a `?wait=` long
   * poll: for Redis to be there, then for its job).
   */
  redisDeadline?: 'enqueue';
}
