import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimContext } from './context.js';
import { ScriptError, validateScript } from './faults.js';
import { parseJson, readBody, sendJson } from './http-util.js';
import { SimulatorOptionError } from './resolve-options.js';
import { emptyCounters } from './stats.js';
import type { GroupStats, LimitSet, SimulatorStats } from './types.js';

/** A deep copy of the counters with the limits currently in force. */
export function statsSnapshot(ctx: SimContext): SimulatorStats {
  const { stats, limiter } = ctx;
  const groups: Record<string, GroupStats> = {};
  for (const [name, counters] of stats.groups) {
    groups[name] = { ...structuredClone(counters), limits: limiter.limitsOf(name) };
  }
  for (const name of limiter.groupNames()) {
    // A configured group with no traffic yet: zero counters, real limits.
    groups[name] ??= { ...emptyCounters(), limits: limiter.limitsOf(name) };
  }
  return {
    ...structuredClone(stats.total),
    countTokensRequests: stats.countTokensRequests,
    defaultLimits: limiter.defaultLimits,
    shortIntervalSeconds: ctx.opts.shortIntervalSeconds,
    groups,
  };
}

function badRequest(res: ServerResponse, message: string): void {
  sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message } });
}

/** Applies one admin body to the limits: `{group?, rpm?, itpm?, otpm?, announced?}`. */
function applyLimits(ctx: SimContext, body: unknown): LimitSet {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SimulatorOptionError('body must be a JSON object');
  }
  const { group, ...limits } = body as Partial<LimitSet> & { group?: unknown };
  if (group !== undefined && typeof group !== 'string')
    throw new SimulatorOptionError('group must be a string');
  for (const key of Object.keys(limits)) {
    if (!['rpm', 'itpm', 'otpm', 'announced'].includes(key))
      throw new SimulatorOptionError(`${key} is not a limit`);
  }
  ctx.limiter.setLimits(limits, group);
  return group === undefined ? ctx.limiter.defaultLimits : ctx.limiter.limitsOf(group);
}

/**
 * Admin and ground-truth routes (no API key needed): `GET /__stats`, `POST /__admin/limits`,
 * `POST /__admin/script`, `POST /__admin/reset`. Returns false for any other path.
 */
export async function handleAdmin(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  reset: () => void,
): Promise<boolean> {
  if (path === '/__stats' && req.method === 'GET') {
    sendJson(res, 200, statsSnapshot(ctx));
    return true;
  }
  if (!path.startsWith('/__admin/') || req.method !== 'POST') return false;
  const { body } = await readBody(req, ctx.opts.maxBodyBytes);
  const json = parseJson(body);
  try {
    if (path === '/__admin/limits') {
      sendJson(res, 200, { ok: true, limits: applyLimits(ctx, json) });
    } else if (path === '/__admin/script') {
      const list = Array.isArray(json) ? json : (json as { faults?: unknown } | undefined)?.faults;
      const faults = validateScript(list);
      ctx.script.push(...faults);
      sendJson(res, 200, { ok: true, queued: ctx.script.length });
    } else if (path === '/__admin/reset') {
      reset();
      sendJson(res, 200, { ok: true });
    } else {
      return false;
    }
  } catch (err) {
    if (err instanceof SimulatorOptionError || err instanceof ScriptError) badRequest(res, err.message);
    else throw err;
  }
  return true;
}
