/**
 * "Another service starts using the key" (S4): a steady stream of requests on the same model group,
 * counted on its side so its share can be taken out of the simulator's totals exactly (each of its
 * requests gets exactly one response: it never retries).
 */
import Anthropic from '@anthropic-ai/sdk';
import { benchApiKey } from './run-sdk.js';

export interface CompetitorCounts {
  sent: number;
  rateLimited: number;
  /** Epoch ms of each successful answer (capacity the other service actually took). */
  okAt: number[];
}

export interface RunningCompetitor {
  /** Its counts so far (answered requests only: call after `stop` for final numbers). */
  counts(): CompetitorCounts;
  /** Stop sending and wait for the requests in flight. */
  stop(): Promise<void>;
}

/** Sends one request every `60000 / rpm` ms from `startAt` (epoch ms) until stopped. */
export function startCompetitor(
  simUrl: string,
  model: string,
  rpm: number,
  startAt: number,
): RunningCompetitor {
  const client = new Anthropic({ apiKey: benchApiKey, baseURL: simUrl, maxRetries: 0 });
  const counts: CompetitorCounts = { sent: 0, rateLimited: 0, okAt: [] };
  const inFlight = new Set<Promise<void>>();
  let interval: NodeJS.Timeout | undefined;
  const fire = () => {
    const p = client.messages
      .create({ model, max_tokens: 8, messages: [{ role: 'user', content: 'other service' }] })
      .then(
        () => {
          counts.okAt.push(Date.now());
        },
        (err: unknown) => {
          if (err instanceof Anthropic.APIError && err.status === 429) counts.rateLimited += 1;
        },
      )
      .finally(() => {
        counts.sent += 1;
        inFlight.delete(p);
      });
    inFlight.add(p);
  };
  const timer = setTimeout(
    () => {
      fire();
      interval = setInterval(fire, 60_000 / rpm);
    },
    Math.max(0, startAt - Date.now()),
  );
  return {
    counts: () => ({ ...counts, okAt: [...counts.okAt] }),
    async stop() {
      clearTimeout(timer);
      clearInterval(interval);
      await Promise.all([...inFlight]);
    },
  };
}
