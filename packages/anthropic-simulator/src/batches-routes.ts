/**
 * The Message Batches endpoints, shaped like the real API's so that the SDK's
 * `client.messages.batches` works unchanged:
 *
 * | route | answer |
 * |---|---|
 * | `POST /v1/messages/batches` | the new batch (`requests: [{custom_id, params}]`) |
 * | `GET /v1/messages/batches` | newest first; `limit`, `after_id`, `before_id`; `has_more`, `first_id`, `last_id` |
 * | `GET /v1/messages/batches/{id}` | the batch |
 * | `POST /v1/messages/batches/{id}/cancel` | the batch, now `canceling` |
 * | `GET /v1/messages/batches/{id}/results` | JSONL, once the batch has ended |
 * | `DELETE /v1/messages/batches/{id}` | `{id, type: "message_batch_deleted"}`, ended batches only |
 *
 * A create whose `params` carry a field the Messages schema does not permit is refused whole,
 * `400 invalid_request_error`, naming the request's index
 * (`requests.3.params.messages.0.content.0.text.foo: Extra inputs are not permitted`), as the real
 * API's create refuses params its parser rejects (anthropics/anthropic-sdk-typescript#553:
 * `system.0.cache_control: Extra inputs are not permitted` from `batches.create`). Other problems
 * of params (a bad value, an unknown model, `max_tokens: 0`) are found while processing, as the
 * docs say of params validation: that request ends `errored` (batches.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkCredentials } from './auth.js';
import { CUSTOM_ID } from './batches.js';
import type { SimContext } from './context.js';
import { errorBody } from './errors.js';
import { parseJson, readBody, sendJson } from './http-util.js';
import { validateMessagesRequest } from './validate-request.js';

const PREFIX = '/v1/messages/batches';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field the params' schema does not permit: refused by the API's parser at create. */
const SCHEMA_ERROR = /Extra inputs are not permitted/;

/** The schema problem of one request's params, or `null`. */
function paramsProblem(params: unknown, maxOutputTokens: (model: string) => number): string | null {
  const v = validateMessagesRequest(params, maxOutputTokens);
  return !v.ok && SCHEMA_ERROR.test(v.error.message) ? v.error.message : null;
}

/** The problem with a create body, as the real API words it, or `null`. */
function checkCreate(
  body: unknown,
  config: { maxRequests: number; refusalNamesRequest: boolean },
  maxOutputTokens: (model: string) => number,
): string | null {
  const { maxRequests } = config;
  if (!isRecord(body)) return 'Request body must be a JSON object';
  const { requests } = body;
  if (!Array.isArray(requests)) return 'requests: Field required';
  if (requests.length === 0) return 'requests: List should have at least 1 item after validation, not 0';
  if (requests.length > maxRequests) {
    return `requests: List should have at most ${maxRequests} items after validation, not ${requests.length}`;
  }
  const seen = new Set<string>();
  for (const [i, r] of requests.entries()) {
    if (!isRecord(r)) return `requests.${i}: Input should be a valid dictionary`;
    if (typeof r.custom_id !== 'string') return `requests.${i}.custom_id: Field required`;
    if (!CUSTOM_ID.test(r.custom_id)) {
      return `requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`;
    }
    if (seen.has(r.custom_id)) {
      return `requests.${i}.custom_id: Duplicate custom_id "${r.custom_id}"; custom_id values must be unique within a batch`;
    }
    seen.add(r.custom_id);
    if (!isRecord(r.params)) return `requests.${i}.params: Field required`;
    const extra = Object.keys(r).find((k) => k !== 'custom_id' && k !== 'params');
    if (extra !== undefined) return `requests.${i}.${extra}: Extra inputs are not permitted`;
    const schema = paramsProblem(r.params, maxOutputTokens);
    if (schema !== null) return config.refusalNamesRequest ? `requests.${i}.params.${schema}` : schema;
  }
  return null;
}

function baseUrl(req: IncomingMessage): string {
  return `http://${req.headers.host ?? '127.0.0.1'}`;
}

/** How a batches route answers: JSON with the request id, or an error. */
interface Reply {
  headers: Record<string, string>;
  json(status: number, body: unknown): void;
  fail(status: number, type: string, message: string): void;
}

/** Answers a batches route; `false` when `path` is not one. */
export async function handleBatches(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  requestId: string,
): Promise<boolean> {
  if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return false;
  const headers = { 'request-id': requestId };
  const reply: Reply = {
    headers,
    json: (status, body) => sendJson(res, status, body, headers),
    fail: (status, type, message) => sendJson(res, status, errorBody(type, message, requestId), headers),
  };
  const method = req.method ?? 'GET';

  if (path === PREFIX && method === 'POST') {
    await createBatch(ctx, req, reply);
    return true;
  }
  req.resume();
  const denied = checkCredentials(req, ctx.opts.apiKey, ctx.opts.requireVersionHeader);
  if (denied) {
    reply.fail(denied.status, denied.type, denied.message);
  } else if (path === PREFIX) {
    if (method !== 'GET') reply.fail(405, 'invalid_request_error', 'Method not allowed');
    else listBatches(ctx, req, reply);
  } else {
    const [id, action, ...rest] = path.slice(PREFIX.length + 1).split('/');
    if (id === undefined || rest.length > 0 || !ctx.batches.has(id)) {
      reply.fail(404, 'not_found_error', `message_batch not found: ${id ?? ''}`);
    } else {
      batchAction(ctx, req, res, reply, { id, action, method });
    }
  }
  return true;
}

/** `POST /v1/messages/batches` */
async function createBatch(ctx: SimContext, req: IncomingMessage, reply: Reply): Promise<void> {
  const store = ctx.batches;
  const { body, tooLarge } = await readBody(req, store.config.maxBytes);
  if (tooLarge) {
    reply.fail(
      413,
      'request_too_large',
      `Request exceeds the maximum size of ${store.config.maxBytes} bytes.`,
    );
    return;
  }
  const denied = checkCredentials(req, ctx.opts.apiKey, ctx.opts.requireVersionHeader);
  if (denied) {
    reply.fail(denied.status, denied.type, denied.message);
    return;
  }
  const json = parseJson(body);
  const problem =
    json === undefined
      ? 'There was an issue with the formatting of your request body: invalid JSON'
      : checkCreate(json, store.config, ctx.opts.maxOutputTokens);
  if (problem !== null) {
    reply.fail(400, 'invalid_request_error', problem);
    return;
  }
  const id = store.create((json as { requests: Array<{ custom_id: string; params: unknown }> }).requests);
  reply.json(200, store.view(id, baseUrl(req)));
}

/** `GET /v1/messages/batches`: newest first, one page. */
function listBatches(ctx: SimContext, req: IncomingMessage, reply: Reply): void {
  const store = ctx.batches;
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const limit = query.get('limit') === null ? 20 : Number(query.get('limit'));
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    reply.fail(400, 'invalid_request_error', 'limit: Input should be between 1 and 1000');
    return;
  }
  let ids = store.ids();
  const after = query.get('after_id');
  const before = query.get('before_id');
  if (after !== null) ids = ids.slice(ids.indexOf(after) + 1);
  if (before !== null) ids = ids.slice(0, Math.max(0, ids.indexOf(before)));
  const page = before !== null ? ids.slice(-limit) : ids.slice(0, limit);
  reply.json(200, {
    data: page.map((id) => store.view(id, baseUrl(req))),
    has_more: ids.length > page.length,
    first_id: page[0] ?? null,
    last_id: page[page.length - 1] ?? null,
  });
}

/** `GET`/`DELETE /v1/messages/batches/{id}`, `POST …/cancel`, `GET …/results`, of a batch that exists. */
function batchAction(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply,
  call: { id: string; action: string | undefined; method: string },
): void {
  const store = ctx.batches;
  const { id, action, method } = call;
  if (action === undefined && method === 'GET') {
    reply.json(200, store.view(id, baseUrl(req)));
  } else if (action === undefined && method === 'DELETE') {
    if (store.view(id, baseUrl(req))?.processing_status !== 'ended') {
      reply.fail(
        400,
        'invalid_request_error',
        `Batch ${id} cannot be deleted while it is processing; cancel it first.`,
      );
    } else {
      store.delete(id);
      reply.json(200, { id, type: 'message_batch_deleted' });
    }
  } else if (action === 'cancel' && method === 'POST') {
    store.cancel(id);
    reply.json(200, store.view(id, baseUrl(req)));
  } else if (action === 'results' && method === 'GET') {
    const lines = store.results(id);
    if (lines === null) {
      reply.fail(
        400,
        'invalid_request_error',
        `Batch ${id} has not finished processing; results are not available yet.`,
      );
    } else {
      const payload = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
      res.writeHead(200, {
        ...reply.headers,
        'content-type': 'application/binary',
        'content-length': String(Buffer.byteLength(payload)),
      });
      res.end(payload);
    }
  } else if (action === 'cancel' || action === 'results' || action === undefined) {
    reply.fail(405, 'invalid_request_error', 'Method not allowed');
  } else {
    reply.fail(404, 'not_found_error', 'Not found');
  }
}
