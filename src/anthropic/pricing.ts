/**
 * Model prices and cost. Prices are USD per million tokens. A model matches the entry with the
 * longest prefix of its name, so dated snapshots (`claude-sonnet-4-5-20250929`) and `-latest`
 * aliases find their family. `PROMPTQ_PRICING_FILE` (JSON: `{ "model-prefix": {input, output,
 * cache_write?, cache_read?} }`) overrides or extends the table.
 */

import { readFileSync } from 'node:fs';
import { dict } from '../core/dict.js';

export interface ModelPrice {
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens. */
  output: number;
  /** USD per million cache-write tokens (5-minute cache). @defaultValue 1.25 × input */
  cache_write: number;
  /** USD per million cache-read tokens. @defaultValue 0.1 × input */
  cache_read: number;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

function price(input: number, output: number): ModelPrice {
  return { input, output, cache_write: input * 1.25, cache_read: input * 0.1 };
}

/**
 * Built-in list prices. Entries for models released after late 2025 follow their family's last
 * published price; override them with a pricing file when your invoice says otherwise.
 */
export const builtinPrices: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-5': price(5, 25),
  'claude-sonnet-5': price(3, 15),
  'claude-haiku-5': price(1, 5),
  'claude-opus-4-8': price(5, 25),
  'claude-opus-4-7': price(5, 25),
  'claude-opus-4-6': price(5, 25),
  'claude-opus-4-5': price(5, 25),
  'claude-opus-4-1': price(15, 75),
  'claude-opus-4': price(15, 75),
  'claude-sonnet-4': price(3, 15),
  'claude-haiku-4': price(1, 5),
  'claude-3-7-sonnet': price(3, 15),
  'claude-3-5-sonnet': price(3, 15),
  'claude-3-5-haiku': price(0.8, 4),
  'claude-3-opus': price(15, 75),
  'claude-3-sonnet': price(3, 15),
  'claude-3-haiku': price(0.25, 1.25),
};

/** The Message Batches API's price: this share of the standard price of every token type. */
export const batchDiscount = 0.5;

/** How a call was made, where that changes its price. */
export interface CostOptions {
  /** Through the Message Batches API. @defaultValue `false` */
  batch?: boolean;
}

/** A price table with longest-prefix lookup. */
export class PriceTable {
  readonly #entries: Array<[string, ModelPrice]>;

  constructor(prices: Readonly<Record<string, ModelPrice>> = builtinPrices) {
    this.#entries = Object.entries(prices).sort((a, b) => b[0].length - a[0].length);
  }

  /** Built-in prices overlaid with the JSON file at `path` (if any). Throws naming the bad entry. */
  static load(path: string | undefined): PriceTable {
    if (path === undefined) return new PriceTable();
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`PROMPTQ_PRICING_FILE: cannot read ${path}: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new Error('PROMPTQ_PRICING_FILE: expected an object of model prefix → prices');
    }
    const merged = Object.assign(dict<ModelPrice>(), builtinPrices);
    for (const [model, p] of Object.entries(raw as Record<string, unknown>)) {
      const e = p as Partial<ModelPrice> | null;
      const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
      if (!e || !ok(e.input) || !ok(e.output)) {
        throw new Error(
          `PROMPTQ_PRICING_FILE: "${model}" needs numeric "input" and "output" (USD per million tokens)`,
        );
      }
      merged[model] = {
        input: e.input,
        output: e.output,
        cache_write: ok(e.cache_write) ? e.cache_write : e.input * 1.25,
        cache_read: ok(e.cache_read) ? e.cache_read : e.input * 0.1,
      };
    }
    return new PriceTable(merged);
  }

  /** The price of `model`, or `undefined` when no entry matches. */
  lookup(model: string): ModelPrice | undefined {
    for (const [prefix, p] of this.#entries) if (model.startsWith(prefix)) return p;
    return undefined;
  }

  /**
   * Cost of `usage` on `model` in USD (0 when the model has no price). `batch`: a Message Batches
   * request, {@link batchDiscount} of every token type, cache tokens included.
   */
  cost(model: string, usage: Usage, opts: CostOptions = {}): number {
    const p = this.lookup(model);
    if (!p) return 0;
    const usd =
      ((usage.input_tokens * p.input +
        usage.output_tokens * p.output +
        usage.cache_creation_input_tokens * p.cache_write +
        usage.cache_read_input_tokens * p.cache_read) /
        1_000_000) *
      (opts.batch ? batchDiscount : 1);
    // Round to 1e-9 USD so sums over records stay exact enough for finance.
    return Math.round(usd * 1e9) / 1e9;
  }
}
