/**
 * The Message Batches endpoints' options, their defaults and their check: apart from batches.ts, so
 * that options.ts can resolve them without importing the batch store (which reads the resolved
 * options).
 */

/** Options of the Message Batches endpoints (`SimulatorOptions.batches`). */
export interface BatchesOptions {
  /**
   * Seconds from creation until a batch ends (the real API: up to 24 h, usually under one).
   * @defaultValue 10
   */
  processingSeconds?: number;
  /**
   * Chance that a request ends `errored` with an `api_error` (besides requests with invalid params,
   * which always end `errored` with an `invalid_request_error`).
   * @defaultValue 0
   */
  errorRate?: number;
  /**
   * Chance that a request is still unprocessed when its batch ends: it ends `expired`.
   * @defaultValue 0
   */
  expiryRate?: number;
  /**
   * Seconds from a cancel to the batch's end (`canceling` meanwhile).
   * @defaultValue 1
   */
  cancelSeconds?: number;
  /**
   * Most requests per batch.
   * @defaultValue 100000
   */
  maxRequests?: number;
  /**
   * Largest create body in bytes.
   * @defaultValue 268435456 (256 MB)
   */
  maxBytes?: number;
  /**
   * A JSON file the batches are kept in, so that they outlive the process: read when it changed,
   * written after each create, cancel, delete and first read of results (0600, its directory 0700).
   * Empty: in memory only.
   * @defaultValue `''`
   */
  stateFile?: string;
  /**
   * Whether a create refused for one request's params names the request (`requests.3.params.…`).
   * The real API's wording is not documented; anthropics/anthropic-sdk-typescript#553 quotes one
   * without the index (`system.0.cache_control: Extra inputs are not permitted`). `false`: the
   * message names only the field inside the params, so a client cannot tell which request it was.
   * @defaultValue true
   */
  refusalNamesRequest?: boolean;
}

export const BATCHES_DEFAULTS = {
  processingSeconds: 10,
  errorRate: 0,
  expiryRate: 0,
  cancelSeconds: 1,
  maxRequests: 100_000,
  maxBytes: 256 * 1024 * 1024,
  stateFile: '',
  refusalNamesRequest: true,
} as const satisfies Required<BatchesOptions>;

/** Checks `SimulatorOptions.batches`; returns a message naming the bad field, or the resolved options. */
export function resolveBatchesOptions(given: BatchesOptions = {}): Required<BatchesOptions> | string {
  const r = { ...BATCHES_DEFAULTS, ...given };
  const finite = (v: number) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!finite(r.processingSeconds)) return 'batches.processingSeconds must be a number >= 0';
  if (!finite(r.cancelSeconds)) return 'batches.cancelSeconds must be a number >= 0';
  for (const k of ['errorRate', 'expiryRate'] as const) {
    if (!(finite(r[k]) && r[k] <= 1)) return `batches.${k} must be a probability in [0, 1]`;
  }
  if (typeof r.refusalNamesRequest !== 'boolean') return 'batches.refusalNamesRequest must be true or false';
  if (typeof r.stateFile !== 'string') return 'batches.stateFile must be a path (a string)';
  if (r.errorRate + r.expiryRate > 1) return 'batches.errorRate + batches.expiryRate must be at most 1';
  for (const k of ['maxRequests', 'maxBytes'] as const) {
    if (!(Number.isInteger(r[k]) && r[k] >= 1)) return `batches.${k} must be an integer >= 1`;
  }
  return r;
}
