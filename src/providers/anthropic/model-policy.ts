/**
 * Which models a job may name (`PROMPTQ_MODELS`), checked at enqueue — HTTP, CLI, library and each
 * backfill line — so that a typo or a made-up model is a `400` naming the field, not a job that
 * fails at the API (or, for an unpriced model, runs with no known cost).
 *
 * - `any` (the default): every model name is accepted, as before.
 * - `known`: the models of the price list (`prices.json`, or `PROMPTQ_PRICING_FILE` when set),
 *   with their aliases and dated snapshots (`claude-sonnet-4-5-20250929`, `…-latest`).
 * - a comma-separated list of model names (each also with its dated snapshots), which may include
 *   `known`: `known,my-proxy-model`.
 *
 * `model` and every `fallback_models` entry are checked. The limiter is not concerned: models of
 * no known family still share one limiter group (core/models.ts), whatever this allows.
 */
import type { ModelsSetting, PromptqConfig } from '../../core/config.js';
import type { FieldProblem } from '../../core/job.js';
import { PriceTable } from './pricing.js';

const dated = /^-(\d{8}|latest)$/;

/** The models jobs may name. */
export class ModelPolicy {
  readonly #setting: ModelsSetting;
  readonly #prices: PriceTable | undefined;

  /** @param prices the price list `known` refers to. @defaultValue the vendored list */
  constructor(setting: ModelsSetting, prices?: PriceTable) {
    this.#setting = setting;
    this.#prices = setting.kind === 'listed' && setting.known ? (prices ?? new PriceTable()) : undefined;
  }

  /** Whether a job may name `model`. */
  allows(model: string): boolean {
    const s = this.#setting;
    if (s.kind === 'any') return true;
    if (this.#prices?.lookup(model) !== undefined) return true;
    return s.names.some((n) => model === n || (model.startsWith(n) && dated.test(model.slice(n.length))));
  }

  /** What is wrong with a request's models (`prefix` names the job in a batch: `jobs.3.`). */
  problems(request: { model: string; fallback_models?: string[] | undefined }, prefix = ''): FieldProblem[] {
    const out: FieldProblem[] = [];
    if (!this.allows(request.model))
      out.push({ field: `${prefix}model`, message: this.#refusal(request.model) });
    (request.fallback_models ?? []).forEach((m, i) => {
      if (!this.allows(m)) out.push({ field: `${prefix}fallback_models.${i}`, message: this.#refusal(m) });
    });
    return out;
  }

  #refusal(model: string): string {
    const s = this.#setting;
    const what =
      s.kind === 'listed' && s.known
        ? s.names.length > 0
          ? 'not in the price list nor in PROMPTQ_MODELS'
          : 'not in the price list (PROMPTQ_MODELS=known)'
        : 'not in PROMPTQ_MODELS';
    const now = s.kind === 'listed' ? [...(s.known ? ['known'] : []), ...s.names] : [];
    const priced = s.kind === 'listed' && s.known ? ', price it in PROMPTQ_PRICING_FILE,' : '';
    return `unknown model ${JSON.stringify(model)}: ${what}; to allow it, add it to PROMPTQ_MODELS (PROMPTQ_MODELS=${[...now, model].join(',')})${priced} or set PROMPTQ_MODELS=any`;
  }
}

/** The policy a config sets: `PROMPTQ_MODELS`, over the price list `PROMPTQ_PRICING_FILE` makes. */
export function modelPolicyOf(config: Pick<PromptqConfig, 'jobs' | 'pricingFile'>): ModelPolicy {
  const { models } = config.jobs;
  const known = models.kind === 'listed' && models.known;
  return new ModelPolicy(models, known ? PriceTable.load(config.pricingFile) : undefined);
}
