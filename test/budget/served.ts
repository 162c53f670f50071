/**
 * What the simulator served, per tenant, priced here from prices.json — independently of promptq's
 * pricing code and of its records: the ground truth the budget tests judge spend by.
 */
import { readFileSync } from 'node:fs';
import type { ServedResponse } from '../../packages/anthropic-simulator/src/index.js';

interface ListEntry {
  input: number;
  output: number;
  cache_write?: number;
  cache_write_1h?: number;
  cache_read?: number;
  aliases?: string[];
  long_context?: { threshold: number; input: number; output: number };
}
const list = JSON.parse(
  readFileSync(new URL('../../src/providers/anthropic/prices.json', import.meta.url), 'utf8'),
) as { server_tools: Record<string, number>; models: Record<string, ListEntry> };

function entryOf(model: string): ListEntry | undefined {
  for (const [id, e] of Object.entries(list.models)) {
    if (model === id || e.aliases?.includes(model) || new RegExp(`^${id}-\\d{8}$`).test(model)) return e;
  }
  return undefined;
}

/**
 * The list price of one served response (USD): its tokens at the served model's prices (a priority
 * answer at the list price, as docs/reference/record.md says), the long-context step, web searches.
 * Throws for a model the list does not price: a test must not call that spend 0.
 */
export function listPrice(s: ServedResponse): number {
  const e = entryOf(s.model);
  if (!e) throw new Error(`the simulator served ${s.model}, which the price list does not price`);
  const u = s.usage;
  const total = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
  const lc = e.long_context && total > e.long_context.threshold ? e.long_context : undefined;
  const k = (lc?.input ?? e.input) / e.input;
  const perM =
    u.input_tokens * e.input * k +
    s.cacheCreation.ephemeral_5m_input_tokens * (e.cache_write ?? e.input * 1.25) * k +
    s.cacheCreation.ephemeral_1h_input_tokens * (e.cache_write_1h ?? e.input * 2) * k +
    u.cache_read_input_tokens * (e.cache_read ?? e.input * 0.1) * k +
    u.output_tokens * (lc?.output ?? e.output);
  const searches = (s.serverToolUse?.web_search_requests ?? 0) * (list.server_tools.web_search_requests ?? 0);
  return perM / 1e6 + searches;
}

/** A ledger of everything the simulator served: pass `onServed` to the simulator. */
export function servedLedger() {
  const served: ServedResponse[] = [];
  return {
    onServed: (s: ServedResponse) => {
      served.push(s);
    },
    /** What was served to a tenant (promptq sends `tenant_id` as `metadata.user_id`). */
    to: (tenant: string) => served.filter((s) => s.userId === tenant),
    /** The list price of everything served to a tenant. */
    spendOf: (tenant: string) =>
      served.filter((s) => s.userId === tenant).reduce((n, s) => n + listPrice(s), 0),
  };
}

/**
 * What a simulator's Message Batches answered, request by request: each succeeded result's usage at
 * the list price of its served model, halved (the Batches discount on every token type), read back
 * through the official SDK — the ground truth for spend through the `batch` route.
 */
export async function batchServed(
  simUrl: string,
  apiKey = 'k',
): Promise<Array<{ customId: string; usd: number }>> {
  const { default: Anthropic } = await import('@anthropic-ai/sdk');
  const c = new Anthropic({ apiKey, baseURL: simUrl, maxRetries: 0 });
  const out: Array<{ customId: string; usd: number }> = [];
  for await (const b of c.messages.batches.list({ limit: 100 })) {
    if (b.processing_status !== 'ended') throw new Error(`batch ${b.id} has not ended`);
    for await (const r of await c.messages.batches.results(b.id)) {
      if (r.result.type !== 'succeeded') continue;
      const m = r.result.message;
      const u = m.usage;
      const served = {
        model: m.model,
        usage: {
          input_tokens: u.input_tokens,
          output_tokens: u.output_tokens,
          cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
          cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
        },
        cacheCreation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0, ...u.cache_creation },
        serverToolUse: u.server_tool_use ?? null,
      };
      out.push({ customId: r.custom_id, usd: listPrice(served as unknown as ServedResponse) / 2 });
    }
  }
  return out;
}
