/**
 * Cross-site request forgery, closed for the JSON API. A browser that holds Basic credentials for
 * the dashboard sends them with any request to the same host, and a cross-site page can POST a
 * `text/plain` form without a preflight. So:
 *
 * - Basic auth opens the browser pages only (`/admin`, `/dashboard`); the API wants a Bearer token,
 *   which a browser never adds by itself (app.ts, `requireToken`).
 * - `/v1` takes `application/json` only (`415` otherwise): a cross-site form cannot send it
 *   without a CORS preflight, which promptq never answers.
 * - `/v1` refuses a request a browser marks as cross-site (`Sec-Fetch-Site: cross-site` or
 *   `same-site`) or whose `Origin` is not this host (`403`). Programs (curl, SDKs, BullMQ) send
 *   neither header and are not affected.
 * - Every state-changing request (any method but GET, HEAD and OPTIONS), on every route, Bull
 *   Board's included, gets the same cross-site refusal, and a `POST` must be JSON
 *   ({@link stateChangeGuard}): a cross-site form cannot add a job through Bull Board either.
 * - With no token set, only loopback `Host` names are served, and a foreign `Origin` is refused
 *   ({@link loopbackHostGuard}): a DNS-rebinding page (`evil.example` resolving to 127.0.0.1)
 *   reaches nothing. With a token, the token is the guard.
 */
import { isIP } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from './errors.js';

/** Paths a browser visits with Basic auth. */
export function isBrowserPage(path: string): boolean {
  return /^\/(admin|dashboard)(\/|$)/.test(path);
}

/** Is the request's media type JSON (`application/json`, any parameters)? */
function isJson(req: Request): boolean {
  const type = req.headers['content-type'];
  return typeof type === 'string' && /^application\/json\s*(;|$)/i.test(type.trim());
}

/** Did a browser send this from another site? */
function crossSite(req: Request): string | null {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site: ${site}`;
  const origin = req.headers.origin;
  if (typeof origin === 'string') {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return `Origin: ${origin}`;
    }
    if (host !== req.headers.host) return `Origin: ${origin}`;
  }
  return null;
}

/** Guards `/v1`: same-origin or no browser at all, and JSON bodies only. */
export function apiRequestGuard(req: Request, _res: Response, next: NextFunction): void {
  next(refusal(req));
}

/** Why `/v1` refuses this request, or `undefined` when it may pass. */
function refusal(req: Request): HttpError | undefined {
  const from = crossSite(req);
  if (from !== null) return new HttpError('forbidden', `cross-site requests are refused (${from})`);
  if (req.method === 'POST' && !isJson(req)) {
    return new HttpError(
      'unsupported_media_type',
      `content-type: must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? null)}`,
    );
  }
  return undefined;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Guards every route: a state-changing request is same-origin (or from no browser), a `POST` is JSON. */
export function stateChangeGuard(req: Request, _res: Response, next: NextFunction): void {
  next(safeMethods.has(req.method) ? undefined : refusal(req));
}

/** The host name of a `Host` header or an origin's host (`name[:port]`, `[v6]:port`), lower case. */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** `localhost` (and `*.localhost`), 127.0.0.0/8, `::1` (and IPv4-mapped 127.x). */
export function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const v4 = name.startsWith('::ffff:') ? name.slice(7) : name;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return isIP(name) === 6 && (name === '::1' || name === '0:0:0:0:0:0:0:1');
}

/**
 * Without a token: refuse a request whose `Host` is not a loopback name, or whose `Origin` is not
 * a loopback origin (DNS rebinding). With a token: nothing to do here.
 */
export function loopbackHostGuard(token: string | undefined) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    next(token === undefined ? foreignHost(req) : undefined);
  };
}

/** Why a request is refused when no token is set: a `Host` or `Origin` that is not loopback. */
function foreignHost(req: Request): HttpError | undefined {
  const host = req.headers.host ?? '';
  if (!isLoopbackName(hostName(host))) {
    return new HttpError(
      'forbidden',
      `host: ${JSON.stringify(host)} is not served without PROMPTQ_AUTH_TOKEN; only loopback names (localhost, 127.0.0.1, [::1]) are (DNS rebinding)`,
    );
  }
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === 'null') return undefined;
  let name = '';
  try {
    name = hostName(new URL(origin).host);
  } catch {}
  return isLoopbackName(name)
    ? undefined
    : new HttpError('forbidden', `cross-site requests are refused (Origin: ${origin})`);
}
