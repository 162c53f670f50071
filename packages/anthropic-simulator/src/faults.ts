import type { FaultRates } from './options.js';
import type { Rng } from './rng.js';
import type { ScriptedFault, ScriptedStatusFault } from './types.js';

/** A random fault kind, or `null` for normal handling. */
export type RandomFault = keyof FaultRates | null;

const ORDER: ReadonlyArray<keyof FaultRates> = ['overloaded', 'apiError', 'drop', 'hang', 'midstream'];

/** Draws one fault from the configured probabilities (one PRNG draw per request). */
export function drawFault(rng: Rng, rates: Required<FaultRates>): RandomFault {
  const u = rng();
  let acc = 0;
  for (const kind of ORDER) {
    acc += rates[kind];
    if (u < acc) return kind;
  }
  return null;
}

const STATUSES = new Set([429, 500, 529, 400, 401, 403, 404, 413]);

/** Thrown for a malformed scripted fault; the message names the field. */
export class ScriptError extends Error {
  override readonly name = 'ScriptError';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkStatusFault(f: Record<string, unknown>, field: string): ScriptedStatusFault {
  if (typeof f.status !== 'number' || !STATUSES.has(f.status)) {
    throw new ScriptError(`${field}.status must be one of ${[...STATUSES].join(', ')}`);
  }
  for (const key of ['type', 'errorCode', 'message'] as const) {
    if (f[key] !== undefined && typeof f[key] !== 'string')
      throw new ScriptError(`${field}.${key} must be a string`);
  }
  if (f.retryAfter !== undefined && !(typeof f.retryAfter === 'number' && f.retryAfter >= 0)) {
    throw new ScriptError(`${field}.retryAfter must be a number >= 0`);
  }
  return f as unknown as ScriptedStatusFault;
}

/** Validates a list of scripted faults (from `script()` or `POST /__admin/script`). */
export function validateScript(value: unknown, field = 'faults'): ScriptedFault[] {
  if (!Array.isArray(value)) throw new ScriptError(`${field} must be an array`);
  return value.map((f, i): ScriptedFault => {
    const at = `${field}.${i}`;
    if (!isRecord(f)) throw new ScriptError(`${at} must be an object`);
    if ('status' in f) return checkStatusFault(f, at);
    if (f.drop === true) return { drop: true };
    if (f.hang === true) return { hang: true };
    if (f.midstreamError === true) return { midstreamError: true };
    if (f.ok === true) {
      for (const key of ['outputTokens', 'delayMs'] as const) {
        const v = f[key];
        if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
          throw new ScriptError(`${at}.${key} must be a number >= 0`);
        }
      }
      const ok: ScriptedFault = { ok: true };
      if (typeof f.outputTokens === 'number') ok.outputTokens = f.outputTokens;
      if (typeof f.delayMs === 'number') ok.delayMs = f.delayMs;
      return ok;
    }
    throw new ScriptError(`${at} must have status, drop, hang, midstreamError or ok`);
  });
}
