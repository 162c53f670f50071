/**
 * Model names as metric labels (/metrics, OpenTelemetry, the dashboard's rollups), bounded: a
 * tenant can name any model, and each distinct label is a series. Three kinds of name:
 *
 * - **listed**: the exact names of the price list (ids and aliases, `PROMPTQ_PRICING_FILE` when
 *   set) and the names `PROMPTQ_MODELS` lists. A finite set: always their own label, no slot taken.
 * - **known**: names the price list or `PROMPTQ_MODELS` accepts by pattern (dated snapshots such as
 *   `claude-sonnet-4-5-20250929`, prefix entries of a pricing file): the first `max` keep theirs.
 * - **unknown**: every other name: the first `max` keep theirs, the rest are `other`.
 *
 * Known and unknown names have slots of their own, so a flood of made-up names fills only the
 * unknown ones: a real model never becomes `other` because of them.
 */
import type { PromptqConfig } from '../../core/config.js';
import { modelPolicyOf } from '../../providers/anthropic/model-policy.js';
import { PriceTable } from '../../providers/anthropic/pricing.js';

/** What the configuration knows of model names. */
export interface ModelCatalog {
  /** An exact name of the price list or of `PROMPTQ_MODELS`. */
  listed(model: string): boolean;
  /** A name the price list or `PROMPTQ_MODELS` accepts (listed ones included). */
  known(model: string): boolean;
}

/** The catalog of a price list alone (the vendored one by default). */
export function priceListCatalog(prices: PriceTable = new PriceTable()): ModelCatalog {
  const names = new Set(prices.names());
  return { listed: (m) => names.has(m), known: (m) => names.has(m) || prices.lookup(m) !== undefined };
}

/** The catalog a configuration makes: its price list and its `PROMPTQ_MODELS` names. */
export function modelCatalogOf(config: Pick<PromptqConfig, 'jobs' | 'pricingFile'>): ModelCatalog {
  const prices = priceListCatalog(PriceTable.load(config.pricingFile));
  const setting = config.jobs.models;
  if (setting.kind !== 'listed') return prices;
  const policy = modelPolicyOf(config);
  const names = new Set(setting.names);
  return {
    listed: (m) => prices.listed(m) || names.has(m),
    known: (m) => prices.known(m) || policy.allows(m),
  };
}

/** The label of each model name: see the file's header. */
export class ModelLabels {
  readonly #kept = new Set<string>();
  readonly #known = new Set<string>();
  readonly #unknown = new Set<string>();
  readonly #max: number;
  readonly #catalog: ModelCatalog;

  /** @param max slots for known names, and as many for unknown ones */
  constructor(max: number, catalog: ModelCatalog = priceListCatalog()) {
    this.#max = max;
    this.#catalog = catalog;
  }

  label(model: string): string {
    if (this.#kept.has(model) || this.#known.has(model) || this.#unknown.has(model)) return model;
    if (this.#catalog.listed(model)) {
      this.#kept.add(model);
      return model;
    }
    const slots = this.#catalog.known(model) ? this.#known : this.#unknown;
    if (slots.size >= this.#max) return 'other';
    slots.add(model);
    return model;
  }
}
