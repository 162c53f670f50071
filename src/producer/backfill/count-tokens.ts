/**
 * `--dry-run --count-tokens`: exact input tokens from the API's free `count_tokens` endpoint, a few
 * requests at a time (it has its own rate limit; a 429 is waited out and asked again).
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { LineDefaults } from './parse.js';
import { parsedLines } from './scan.js';

export async function countInputTokens(
  client: Anthropic,
  path: string,
  lineDefaults: LineDefaults,
  opts: { concurrency?: number; onProgress?: (counted: number) => void } = {},
): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let counted = 0;
  const count = async (req: Parameters<Anthropic['messages']['countTokens']>[0]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await client.messages.countTokens(req);
        totals.set(req.model, (totals.get(req.model) ?? 0) + r.input_tokens);
        counted += 1;
        opts.onProgress?.(counted);
        return;
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status !== 429 || attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
      }
    }
  };
  for await (const p of parsedLines(path, lineDefaults)) {
    if (p.kind !== 'job') continue;
    const { model, messages, system } = p.request;
    const task = count({
      model,
      messages: messages as Anthropic.MessageParam[],
      ...(system !== undefined ? { system: system as Anthropic.MessageCountTokensParams['system'] } : {}),
    }).finally(() => running.delete(task));
    running.add(task);
    if (running.size >= (opts.concurrency ?? 4)) await Promise.race(running);
  }
  await Promise.all(running);
  return totals;
}
