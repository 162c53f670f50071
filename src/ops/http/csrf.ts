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
 */
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
