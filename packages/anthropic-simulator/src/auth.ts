import type { IncomingMessage } from 'node:http';
import { apiKeyOf } from './http-util.js';

/** The real API's complaint about a request's credentials or version header, or `null` if fine. */
export function checkCredentials(
  req: IncomingMessage,
  expectedKey: string | undefined,
  requireVersion: boolean,
): { status: 400 | 401; type: string; message: string } | null {
  const key = apiKeyOf(req);
  // Messages never include the key itself: it must not leak into logs or responses.
  if (!key) return { status: 401, type: 'authentication_error', message: 'x-api-key header is required' };
  if (expectedKey !== undefined && key !== expectedKey) {
    return { status: 401, type: 'authentication_error', message: 'invalid x-api-key' };
  }
  if (requireVersion && !req.headers['anthropic-version']) {
    return { status: 400, type: 'invalid_request_error', message: 'anthropic-version: header is required' };
  }
  return null;
}
