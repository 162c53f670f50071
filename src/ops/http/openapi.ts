/**
 * The OpenAPI 3.1 document of the HTTP API (docs/reference/http-api.md), served at
 * `GET /openapi.json`. The job body is the job schema itself (core/job-schema.ts, as JSON Schema), so the
 * document cannot drift from what the API checks.
 */
import { jobJsonSchema } from '../../core/job-schema.js';

/** The documents built, by the limits they state. */
const cached = new Map<string, Record<string, unknown>>();

/** The limits the document states: the configuration's (`config.jobs.maxBatch`, `config.http.maxWaitSeconds`). */
export interface OpenApiLimits {
  maxBatch: number;
  maxWaitSeconds: number;
}

const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['type', 'message'],
      properties: { type: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
};

const json = (schema: unknown) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorReply = (description: string) => ({ description, content: json(ref('Error')) });

/** The document (built once per process and limits). */
export function openApiDocument(limits: OpenApiLimits, version = '0.1.0'): Record<string, unknown> {
  const key = `${limits.maxBatch}/${limits.maxWaitSeconds}/${version}`;
  const hit = cached.get(key);
  if (hit) return hit;
  const document = build(limits, version);
  cached.set(key, document);
  return document;
}

/** `GET /v1/jobs/{id}`'s answer. */
const jobView = {
  type: 'object',
  required: ['id', 'state', 'request', 'result', 'record', 'error'],
  properties: {
    id: { type: 'string' },
    state: { enum: ['waiting', 'delayed', 'active', 'completed', 'failed'] },
    request: { type: 'object' },
    result: { type: ['object', 'null'], description: 'the API’s Message, once completed' },
    record: { type: 'object', description: 'the job record' },
    error: { type: ['object', 'null'] },
    position: {
      type: 'integer',
      description: 'while waiting: jobs of its model group the queue serves before it',
    },
    eta_s: {
      type: ['number', 'null'],
      description: "while waiting: seconds until it starts, from its model group's current pace",
    },
  },
};

function build({ maxBatch, maxWaitSeconds }: OpenApiLimits, version: string): Record<string, unknown> {
  const { $schema: _dialect, ...job } = jobJsonSchema();
  const enqueued = {
    type: 'object',
    required: ['id', 'state'],
    properties: { id: { type: 'string' }, state: { type: 'string' } },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'promptq', version, description: 'A resilient job queue for Claude API calls.' },
    components: {
      schemas: {
        Job: job,
        Error: error,
        JobView: jobView,
      },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/v1/jobs': {
        post: {
          summary: 'Enqueue one job',
          requestBody: { required: true, content: json(ref('Job')) },
          responses: {
            '202': { description: 'enqueued', content: json(enqueued) },
            '200': { description: 'a job with this id exists already', content: json(enqueued) },
            '400': errorReply('invalid body: the message names the field'),
          },
        },
      },
      '/v1/jobs/batch': {
        post: {
          summary: `Enqueue up to ${maxBatch} jobs, all or nothing`,
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['jobs'],
              properties: { jobs: { type: 'array', maxItems: maxBatch, items: ref('Job') } },
            }),
          },
          responses: {
            '202': {
              description: 'enqueued',
              content: json({
                type: 'object',
                properties: { ids: { type: 'array', items: { type: 'string' } } },
              }),
            },
            '400': errorReply('an invalid job: fields named jobs.N.field'),
          },
        },
      },
      '/v1/jobs/{id}': {
        get: {
          summary: 'A job: state, request, result, record, error',
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            {
              name: 'wait',
              in: 'query',
              required: false,
              schema: { type: 'number', minimum: 0, maximum: maxWaitSeconds },
            },
            {
              name: 'tenant',
              in: 'query',
              required: false,
              description: "the admin's: read this tenant's job of this id (ids are per tenant)",
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': { description: 'the job', content: json(ref('JobView')) },
            '404': errorReply('no such job'),
            '429': errorReply(
              "with wait: PROMPTQ_MAX_WAITERS requests already wait, or the tenant's PROMPTQ_MAX_WAITERS_PER_TENANT (Retry-After: 1)",
            ),
          },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus text exposition', responses: { '200': { description: 'metrics' } } },
      },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'up' } } } },
      '/readyz': {
        get: {
          summary: 'Readiness (Redis answers)',
          security: [],
          responses: { '200': { description: 'ready' }, '503': { description: 'Redis not reachable' } },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
    },
  };
}
