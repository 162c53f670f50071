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
}
