import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkCredentials } from './auth.js';
import type { SimContext } from './context.js';
import { errorBody } from './errors.js';
import { parseJson, readBody, sendJson } from './http-util.js';
import { SERVED_MODELS } from './models.js';
import { estimateSimTokens } from './tokenizer.js';
import { validateMessagesRequest } from './validate-request.js';

/** Models listed by `GET /v1/models` (any `claude-*` name but the retired ones is served regardless). */
const LISTED_MODELS = SERVED_MODELS;

function deny(ctx: SimContext, req: IncomingMessage, res: ServerResponse, requestId: string): boolean {
  const denied = checkCredentials(req, ctx.opts.apiKey, ctx.opts.requireVersionHeader);
  if (!denied) return false;
  sendJson(res, denied.status, errorBody(denied.type, denied.message, requestId), {
    'request-id': requestId,
  });
  return true;
}

/** `POST /v1/messages/count_tokens`: the same count `/v1/messages` bills, before caching. */
export async function handleCountTokens(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): Promise<void> {
  const { body, tooLarge } = await readBody(req, ctx.opts.maxBodyBytes);
  ctx.stats.countTokensRequests++;
  const headers = { 'request-id': requestId };
  if (tooLarge) {
    sendJson(
      res,
      413,
      errorBody('request_too_large', 'Request exceeds the maximum allowed number of bytes.', requestId),
      headers,
    );
    return;
  }
  if (deny(ctx, req, res, requestId)) return;
  const json = parseJson(body);
  const validated =
    json === undefined
      ? ({
          ok: false,
          error: { status: 400, type: 'invalid_request_error', message: 'invalid JSON body' },
        } as const)
      : validateMessagesRequest(json, ctx.opts.maxOutputTokens, true);
  if (!validated.ok) {
    const { error } = validated;
    sendJson(res, error.status, errorBody(error.type, error.message, requestId), headers);
    return;
  }
  sendJson(res, 200, { input_tokens: estimateSimTokens(validated.value.input) }, headers);
}

/** `GET /v1/models`: a minimal, single-page list. */
export function handleListModels(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): void {
  if (deny(ctx, req, res, requestId)) return;
  const data = LISTED_MODELS.map((m) => ({ type: 'model', ...m }));
  sendJson(
    res,
    200,
    { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null },
    { 'request-id': requestId },
  );
}
