/**
 * `--dry-run --count-tokens`: exact input tokens from the provider's free token counting (the API's
 * `count_tokens` endpoint), a few requests at a time (it has its own rate limit; a 429 is waited out
 * and asked again).
 */

import { UsageError } from '../../core/errors.js';
import type { JobRequest } from '../../core/job.js';
import type { Provider } from '../../providers/provider.js';
import type { LineDefaults } from './parse.js';
import { parsedLines } from './scan.js';

export async function countInputTokens(
  provider: Provider,
  path: string,
  lineDefaults: LineDefaults,
  opts: { concurrency?: number; onProgress?: (counted: number) => void } = {},
): Promise<Map<string, number>> {
  const countTokens = provider.countTokens?.bind(provider);
  if (countTokens === undefined) {
    throw new UsageError(`--count-tokens: provider "${provider.name}" cannot count tokens`);
  }
  const totals = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let counted = 0;
  const count = async (request: Pick<JobRequest, 'model' | 'messages' | 'system'>) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const tokens = await countTokens(request);
        totals.set(request.model, (totals.get(request.model) ?? 0) + tokens);
        counted += 1;
        opts.onProgress?.(counted);
        return;
      } catch (err) {
        if (provider.classify(err).outcome !== 'rate_limited' || attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
      }
    }
  };
  for await (const p of parsedLines(path, lineDefaults)) {
    if (p.kind !== 'job') continue;
    const { model, messages, system } = p.request;
    const task = count({ model, messages, ...(system !== undefined ? { system } : {}) }).finally(() =>
      running.delete(task),
    );
    running.add(task);
    if (running.size >= (opts.concurrency ?? 4)) await Promise.race(running);
  }
  await Promise.all(running);
  return totals;
}
