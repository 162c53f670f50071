import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { loadConfig, type PromptqConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import { type RunningService, runService, type ServiceParts } from '../../src/ops/service.js';
import type { RedisConnection } from '../../src/store/connection.js';
import { bullQueue, redisEnv, testRedis } from './topology.js';

/** A recognisable fake key: the secrets test scans for it. */
export const testApiKey = 'sk-ant-test-SECRET-0123456789abcdef';

export interface Stack {
  sim: Simulator;
  svc: RunningService;
  config: PromptqConfig;
  /** Every structured log line the service wrote. */
  logs: Array<Record<string, unknown>>;
  rawLogs: string[];
  redis: RedisConnection;
  /** A plain BullMQ queue handle on the same queue (what another language's client would do). */
  bull: Queue;
  url: string;
  close(): Promise<void>;
}

/** A unique queue name per test. */
export function uniqueQueue(): string {
  return `t-${randomUUID().slice(0, 8)}`;
}

/**
 * A simulator + promptq service (API and/or worker) on a unique queue in the test Redis. The
 * service is configured from an environment exactly as a user would configure it.
 */
export async function startStack(
  opts: { sim?: SimulatorOptions; env?: Record<string, string>; parts?: Partial<ServiceParts> } = {},
): Promise<Stack> {
  const sim = await startSimulator({ seed: 1, ...opts.sim });
  const queue = uniqueQueue();
  const config = loadConfig({
    ...redisEnv(),
    ANTHROPIC_API_KEY: testApiKey,
    ANTHROPIC_BASE_URL: sim.url,
    PROMPTQ_QUEUE: queue,
    PORT: '0',
    // Fast backoff: the tests check the decisions, not the delays.
    PROMPTQ_RETRY_BASE_MS: '20',
    ...opts.env,
  });
  const rawLogs: string[] = [];
  const log = new Logger('debug', (line) => rawLogs.push(line));
  Logger.redact(testApiKey);
  const svc = await runService(config, { api: true, worker: true, embedRedis: false, ...opts.parts }, log);
  const redis = testRedis();
  const bull = bullQueue(queue, redis);
  return {
    sim,
    svc,
    config,
    rawLogs,
    get logs() {
      return rawLogs.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    redis,
    bull,
    url: svc.url,
    async close() {
      await svc.close();
      await bull.close();
      redis.disconnect();
      await sim.close();
    },
  };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & {
      error?: { type: string; message: string; details?: unknown };
    },
  };
}

export async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body: body as Record<string, any>, headers: res.headers };
}
