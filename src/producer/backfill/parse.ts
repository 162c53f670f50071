/**
 * One input line → a validated job or the reasons it is not one. Two formats:
 *
 * - a job body (docs/reference/job.md), optionally with a `custom_id`;
 * - the Message Batches API's request format: `{"custom_id": "...", "params": {...Messages API body}}`.
 *
 * Every job goes through {@link validateJob}, the validator of every other entrance.
 */

import { type FieldProblem, type JobRequest, ValidationError, validateJob } from '../../core/job.js';
import type { JobLimits } from '../../core/job-schema.js';
import type { ModelPolicy } from '../../providers/anthropic/model-policy.js';
import { scopedJobId } from '../../store/keys.js';
import { backfillJobId } from './ids.js';

/** Settings that apply to every line of a backfill. */
export interface LineDefaults {
  /** Tenant for lines that name none. */
  tenant: string | undefined;
  /** Priority for lines that name none (1 = highest). */
  priority: number;
  /** Namespace for job ids (may be empty). */
  idPrefix: string;
  limits: JobLimits;
  /** The models a line may name (`PROMPTQ_MODELS`). @defaultValue every model */
  models?: ModelPolicy | undefined;
}

export interface ValidLine {
  kind: 'job';
  line: number;
  /** The stored id: the line's job id, with its tenant's tag when it has one (store/keys.ts). */
  id: string;
  customId: string | null;
  request: JobRequest;
  priority: number;
}

export interface InvalidLine {
  kind: 'invalid';
  line: number;
  customId: string | null;
  problems: FieldProblem[];
}

export type ParsedLine = ValidLine | InvalidLine;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(line: number, customId: string | null, field: string, message: string): InvalidLine {
  return { kind: 'invalid', line, customId, problems: [{ field, message }] };
}

/** Parse and validate one line; `null` for a blank line (blank lines are not jobs). */
export function parseLine(text: string, line: number, d: LineDefaults): ParsedLine | null {
  if (text.trim() === '') return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return invalid(line, null, 'line', `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) return invalid(line, null, 'line', 'must be a JSON object');

  let customId: string | null = null;
  if (raw.custom_id !== undefined) {
    if (typeof raw.custom_id !== 'string' || raw.custom_id.length === 0 || raw.custom_id.length > 256) {
      return invalid(line, null, 'custom_id', 'must be a string of 1-256 characters');
    }
    customId = raw.custom_id;
  }
  // A Batches-format line is exactly {custom_id, params}; its problems are named under `params.`.
  const batches = raw.params !== undefined;
  let body: Record<string, unknown>;
  if (batches) {
    const extra = Object.keys(raw).find((k) => k !== 'custom_id' && k !== 'params');
    if (extra !== undefined) return invalid(line, customId, extra, 'unknown field next to "params"');
    if (customId === null) return invalid(line, null, 'custom_id', 'required with "params"');
    if (!isObject(raw.params)) return invalid(line, customId, 'params', 'must be an object');
    body = { ...raw.params };
  } else {
    const { custom_id: _dropped, ...rest } = raw;
    body = rest;
  }
  if (body.tenant_id === undefined && d.tenant !== undefined) body.tenant_id = d.tenant;

  try {
    const { request, id, priority } = validateJob(body, d.limits);
    const unknown = d.models?.problems(request) ?? [];
    if (unknown.length > 0) throw new ValidationError(unknown);
    return {
      kind: 'job',
      line,
      // Ids are per tenant (store/keys.ts): the line's job lives in its tenant's namespace.
      id: scopedJobId(
        backfillJobId(d.idPrefix, line, text, { id, customId: customId ?? undefined }),
        request.tenant_id,
      ),
      customId: customId ?? id ?? null,
      request,
      priority: priority ?? d.priority,
    };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const prefix = batches ? 'params.' : '';
    return {
      kind: 'invalid',
      line,
      customId,
      problems: err.problems.map((p) => ({ field: prefix + p.field, message: p.message })),
    };
  }
}
