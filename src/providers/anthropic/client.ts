/**
 * The Anthropic SDK client a process uses: the real API (or ANTHROPIC_BASE_URL) with the key, or the
 * built-in simulator when there is no key. promptq owns retries and timeouts, so the SDK's are off.
 */
import { resolve } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import type { Simulator } from '@promptq/anthropic-simulator';
import type { PromptqConfig } from '../../core/config.js';
import { Logger } from '../../core/log.js';
import { timedFetch } from '../network-timing.js';

/**
 * Where the built-in simulator keeps its Message Batches, beside the embedded Redis' data
 * (`.promptq/redis`): a `backfill --via batches` killed or stopped resumes them, and `batches
 * show|cancel` finds them, from any later process in the same directory.
 */
export const simulatorBatchesFile = '.promptq/simulator/batches.json';

/** Build the SDK client, starting the simulator when there is no key. */
export async function anthropicClient(
  config: Pick<PromptqConfig, 'anthropic' | 'worker'>,
  log: Logger,
): Promise<{
  client: Anthropic;
  simulator: Simulator | undefined;
  apiKey: string;
  baseURL: string | undefined;
}> {
  let simulator: Simulator | undefined;
  let baseURL = config.anthropic.baseUrl;
  let apiKey = config.anthropic.apiKey;
  if (apiKey === undefined) {
    // Loaded only here: a process with a key never loads the simulator.
    const { startSimulator } = await import('@promptq/anthropic-simulator');
    simulator = await startSimulator({ batches: { stateFile: resolve(simulatorBatchesFile) } });
    baseURL = simulator.url;
    apiKey = 'sk-ant-simulator-local';
    log.warn('ANTHROPIC_API_KEY is not set: using the built-in API simulator (no real calls are made)', {
      simulator_url: simulator.url,
    });
  } else {
    Logger.redact(apiKey);
  }
  const client = new Anthropic({
    apiKey,
    ...(baseURL ? { baseURL } : {}),
    // promptq owns retries and timeouts.
    maxRetries: 0,
    timeout: config.worker.requestTimeoutMs,
    // Times DNS/TCP/TLS and time to first byte per request (src/providers/network-timing.ts).
    fetch: timedFetch(),
    // The worker's attempt span is the GenAI span (worker/tracing.ts), with the record's tokens: the
    // SDK's own call span would describe the same call twice.
    openTelemetry: false,
  });
  return { client, simulator, apiKey, baseURL };
}
