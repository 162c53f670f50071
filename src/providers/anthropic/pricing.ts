/**
 * Model prices and the exact cost of a call. Prices are data: `prices.json` beside this file,
 * vendored from Anthropic's public price list (its `source` and `retrieved` say where and when;
 * `scripts/refresh-prices.ts` refreshes it). A model is priced only when the list names it (its id,
 * a dated snapshot of it, or an alias); any other model is unpriced — its cost is `null`, never a
 * guess.
 *
 * `PROMPTQ_PRICING_FILE` overrides: a file in the same shape as `prices.json` replaces the list; a
 * flat `{ "model-prefix": {input, output, …} }` file adds entries matched by prefix (longest first)
 * on top of it.
 */

import { readFileSync } from 'node:fs';
import type { CostParts } from '../../core/record.js';
import type { CallCost, PriceOptions, Pricing, Usage, WorstCaseCall } from '../provider.js';

export interface ModelPrice {
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens. */
  output: number;
  /** USD per million 5-minute cache-write tokens. @defaultValue 1.25 × input */
  cache_write: number;
  /** USD per million 1-hour cache-write tokens. @defaultValue 2 × input */
  cache_write_1h: number;
  /** USD per million cache-read tokens. @defaultValue 0.1 × input */
  cache_read: number;
  /** Prices over a total input (input + cache writes + cache reads) above `threshold` tokens. */
  long_context?: { threshold: number; input: number; output: number } | undefined;
  /**
   * Prices of the `priority` service tier, where they differ from the list prices. Without them a
   * priority answer is priced at the list prices (Priority Tier capacity is drawn down at the list
   * prices' relative rates).
   */
  priority?: { input: number; output: number } | undefined;
  /**
   * Fast mode (`speed: "fast"`): every token price times this. Without it a fast call has no known
   * price (`null`): fast mode is priced per model, never guessed.
   */
  fast?: number | undefined;
}

export type { CallCost, PriceOptions, Usage, WorstCaseCall } from '../provider.js';

/** A price list: the shape of `prices.json` (and of a full `PROMPTQ_PRICING_FILE`). */
export interface PriceListFile {
  source?: string;
  retrieved?: string;
  cache?: { write_5m?: number; write_1h?: number; read?: number };
  batch_discount?: number;
  server_tools?: Record<string, number>;
  models: Record<string, Partial<ModelPrice> & { aliases?: string[] }>;
}

interface Entry {
  /** Model id or, for `prefix` entries, a name prefix. */
  name: string;
  prefix: boolean;
  price: ModelPrice;
}

/** USD amounts are rounded to 1e-9 so that sums over many records stay exact enough for finance. */
const round = (usd: number) => Math.round(usd * 1e9) / 1e9;
const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const dated = /^-(\d{8}|latest)$/;

/** The vendored list (`prices.json`). */
export function vendoredPriceList(): PriceListFile {
  return JSON.parse(readFileSync(new URL('./prices.json', import.meta.url), 'utf8')) as PriceListFile;
}

function modelPrice(
  where: string,
  e: Partial<ModelPrice> | null | undefined,
  cache: { write_5m: number; write_1h: number; read: number },
): ModelPrice {
  if (!e || !ok(e.input) || !ok(e.output)) {
    throw new Error(`${where} needs numeric "input" and "output" (USD per million tokens)`);
  }
  const lc = e.long_context;
  if (lc !== undefined && (!ok(lc?.threshold) || !ok(lc.input) || !ok(lc.output))) {
    throw new Error(`${where}.long_context needs numeric "threshold", "input" and "output"`);
  }
  return {
    input: e.input,
    output: e.output,
    cache_write: ok(e.cache_write) ? e.cache_write : e.input * cache.write_5m,
    cache_write_1h: ok(e.cache_write_1h) ? e.cache_write_1h : e.input * cache.write_1h,
    cache_read: ok(e.cache_read) ? e.cache_read : e.input * cache.read,
    long_context: lc,
    priority: e.priority,
    fast: ok(e.fast) ? e.fast : undefined,
  };
}

/** A price list with model lookup and the cost function. */
export class PriceTable implements Pricing {
  readonly #entries: Entry[];
  readonly #cache: { write_5m: number; write_1h: number; read: number };
  readonly #batchDiscount: number;
  readonly #serverTools: Readonly<Record<string, number>>;
  /** Where the list came from, for logs and reports. */
  readonly source: string;

  /**
   * @param list a price list in the shape of `prices.json`. @defaultValue the vendored list
   * @param overrides prefix entries that win over the list (from a flat pricing file)
   */
  constructor(
    list: PriceListFile = vendoredPriceList(),
    overrides: Record<string, Partial<ModelPrice>> = {},
  ) {
    this.#cache = {
      write_5m: list.cache?.write_5m ?? 1.25,
      write_1h: list.cache?.write_1h ?? 2,
      read: list.cache?.read ?? 0.1,
    };
    this.#batchDiscount = list.batch_discount ?? 0.5;
    this.#serverTools = { web_search_requests: 0.01, ...list.server_tools };
    this.source = `${list.source ?? 'price list'}${list.retrieved ? ` (${list.retrieved})` : ''}`;
    const entries: Entry[] = [];
    for (const [prefix, p] of Object.entries(overrides)) {
      entries.push({ name: prefix, prefix: true, price: modelPrice(`"${prefix}"`, p, this.#cache) });
    }
    entries.sort((a, b) => b.name.length - a.name.length);
    for (const [id, p] of Object.entries(list.models)) {
      const price = modelPrice(`"${id}"`, p, this.#cache);
      for (const name of [id, ...(p.aliases ?? [])]) entries.push({ name, prefix: false, price });
    }
    this.#entries = entries;
  }

  /** The vendored list, replaced or extended by the pricing file at `path` (if any). Throws naming the bad entry. */
  static load(path: string | undefined): PriceTable {
    if (path === undefined) return new PriceTable();
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`PROMPTQ_PRICING_FILE: cannot read ${path}: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new Error('PROMPTQ_PRICING_FILE: expected an object of model prefix → prices, or a price list');
    }
    try {
      const file = raw as Record<string, unknown>;
      if (typeof file.models === 'object' && file.models !== null)
        return new PriceTable(file as unknown as PriceListFile);
      return new PriceTable(vendoredPriceList(), file as Record<string, Partial<ModelPrice>>);
    } catch (err) {
      throw new Error(`PROMPTQ_PRICING_FILE: ${(err as Error).message}`);
    }
  }

  /** The price of `model`, or `undefined` when the list does not name it. */
  /** The exact names of the list (ids and aliases; not prefix entries, not dated snapshots). */
  names(): string[] {
    return this.#entries.filter((e) => !e.prefix).map((e) => e.name);
  }

  lookup(model: string): ModelPrice | undefined {
    for (const e of this.#entries) {
      if (
        e.prefix
          ? model.startsWith(e.name)
          : model === e.name || (model.startsWith(e.name) && dated.test(model.slice(e.name.length)))
      ) {
        return e.price;
      }
    }
    return undefined;
  }

  /**
   * The exact price of one call from its usage: input, output, 5-minute and 1-hour cache writes
   * (from `usage.cache_creation`; without it every write counts as 5-minute), cache reads, the
   * long-context tier, the service tier (`priority` at its own prices where the list has them, else
   * at the list prices), fast mode (`usage.speed` `fast`: the model's `fast` multiplier on every
   * token price), the Batches discount and server-tool uses. `null` when the model has no known
   * price, or the call ran fast on a model whose fast multiplier the list does not have.
   */
  priceCall(usage: Usage, model: string, options: PriceOptions = {}): CallCost | null {
    const price = this.lookup(model);
    if (!price) return null;
    const tier = usage.service_tier ?? 'standard';
    const batch = options.batch === true || tier === 'batch';
    const created = usage.cache_creation_input_tokens ?? 0;
    const read = usage.cache_read_input_tokens ?? 0;
    const w1h = usage.cache_creation?.ephemeral_1h_input_tokens ?? 0;
    const w5m = usage.cache_creation ? (usage.cache_creation.ephemeral_5m_input_tokens ?? 0) : created;
    const totalInput = usage.input_tokens + created + read;
    const lc =
      price.long_context !== undefined && totalInput > price.long_context.threshold
        ? price.long_context
        : undefined;
    let input = lc?.input ?? price.input;
    let output = lc?.output ?? price.output;
    if (tier === 'priority' && price.priority) {
      input = price.priority.input;
      output = price.priority.output;
    }
    if (usage.speed === 'fast') {
      if (price.fast === undefined) return null;
      input *= price.fast;
      output *= price.fast;
    }
    // Cache prices keep their ratio to the input price of the tier that applies.
    const ratio = input / price.input;
    const discount = batch ? this.#batchDiscount : 1;
    const part = (tokens: number, perMillion: number) => round((tokens * perMillion * discount) / 1_000_000);
    const tools = usage.server_tool_use ?? {};
    let serverTools = 0;
    for (const [name, uses] of Object.entries(tools)) {
      if (typeof uses === 'number') serverTools += uses * (this.#serverTools[name] ?? 0);
    }
    const parts: CostParts = {
      input: part(usage.input_tokens, input),
      output: part(usage.output_tokens, output),
      cache_write_5m: part(w5m, price.cache_write * ratio),
      cache_write_1h: part(w1h, price.cache_write_1h * ratio),
      cache_read: part(read, price.cache_read * ratio),
      server_tools: round(serverTools),
      long_context: lc !== undefined,
      service_tier: tier,
      batch,
    };
    const total = round(
      parts.input +
        parts.output +
        parts.cache_write_5m +
        parts.cache_write_1h +
        parts.cache_read +
        parts.server_tools,
    );
    return { ...parts, total };
  }

  /** The total of {@link priceCall}, or `null` when unpriced. */
  cost(model: string, usage: Usage, options: PriceOptions = {}): number | null {
    return this.priceCall(usage, model, options)?.total ?? null;
  }

  /**
   * The most a call can cost before it is made (for budget holds): every input token at the
   * dearest input rate (a 1-hour cache write, in the long-context tier when the input may pass its
   * threshold), `maxTokens` output tokens, every allowed server-tool use, in the dearest service
   * tier that may answer (`priority` unless the request says `standard_only`). `null` when unpriced.
   */
  worstCase(model: string, call: WorstCaseCall, options: PriceOptions = {}): number | null {
    const price = this.lookup(model);
    if (!price) return null;
    const lc =
      price.long_context !== undefined && call.inputTokens > price.long_context.threshold
        ? price.long_context
        : undefined;
    let input = lc?.input ?? price.input;
    let output = lc?.output ?? price.output;
    if (price.priority && call.serviceTier !== 'standard_only' && !options.batch) {
      input = Math.max(input, price.priority.input);
      output = Math.max(output, price.priority.output);
    }
    if (call.speed === 'fast') {
      if (price.fast === undefined) return null;
      input *= price.fast;
      output *= price.fast;
    }
    const ratio = input / price.input;
    const discount = options.batch ? this.#batchDiscount : 1;
    const inputRate = Math.max(input, price.cache_write * ratio, price.cache_write_1h * ratio);
    const tokens = (call.inputTokens * inputRate + call.maxTokens * output) * discount;
    let tools = 0;
    for (const [name, uses] of Object.entries(call.serverToolUses ?? {})) {
      tools += uses * (this.#serverTools[name] ?? 0);
    }
    tools += (call.webSearches ?? 0) * (this.#serverTools.web_search_requests ?? 0);
    return round(tokens / 1_000_000 + tools);
  }
}

let defaultTable: PriceTable | undefined;

/**
 * The price of one call on the vendored list (or on `options.table`): see {@link PriceTable.priceCall}.
 * `null` when the model has no known price.
 */
export function priceCall(
  usage: Usage,
  model: string,
  options: PriceOptions & { table?: PriceTable } = {},
): CallCost | null {
  if (options.table) return options.table.priceCall(usage, model, options);
  defaultTable ??= new PriceTable();
  return defaultTable.priceCall(usage, model, options);
}
