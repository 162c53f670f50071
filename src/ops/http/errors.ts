/**
 * The HTTP API's errors: a closed set of types, each with its status. Every error response has one
 * shape, `{"error":{"type","message","details"}}`, written by the app's one error middleware.
 */
import { PromptqError } from '../../core/errors.js';

export type ErrorType =
  | 'invalid_request'
  | 'invalid_json'
  | 'not_found'
  | 'unauthorized'
  | 'forbidden'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'too_many_requests'
  | 'unavailable'
  | 'internal';

export const statusOf: Record<ErrorType, number> = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  unavailable: 503,
  internal: 500,
};

/** An error with an HTTP meaning; its `code` is its `type`. */
export class HttpError extends PromptqError {
  override readonly name = 'HttpError';
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly details?: unknown,
    /** Response headers, e.g. `Retry-After` on a `429`. */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message, { code: type });
  }
}
