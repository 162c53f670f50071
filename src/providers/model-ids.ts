/**
 * Model ids per provider. A job names the Anthropic model (`claude-sonnet-4-5`, or its dated id);
 * Bedrock calls it `anthropic.claude-sonnet-4-5-20250929-v1:0` (or an inference profile,
 * `us.anthropic.…`), Vertex `claude-sonnet-4-5@20250929`. An account's `model_ids` add to or replace
 * these; its `models` narrow what it serves. A model with no id is not served: {@link ModelIds.idOf}
 * answers `undefined`, and the provider fails the attempt naming it.
 */

/** Anthropic's model alias → its dated snapshot (the date Bedrock and Vertex name it by). */
const snapshots: Readonly<Record<string, string>> = {
  'claude-opus-4-5': '20251101',
  'claude-opus-4-1': '20250805',
  'claude-opus-4-0': '20250514',
  'claude-sonnet-4-5': '20250929',
  'claude-sonnet-4-0': '20250514',
  'claude-haiku-4-5': '20251001',
  'claude-3-7-sonnet': '20250219',
  'claude-3-5-haiku': '20241022',
  'claude-3-haiku': '20240307',
};

/** Models published on Bedrock and Vertex without a date in their id. */
const undated: readonly string[] = ['claude-sonnet-4-6', 'claude-opus-4-6'];

/** Other names of an alias (Anthropic's dated ids, the `-0` short forms). */
function aliasOf(model: string): string {
  const dated = /^(claude-[a-z0-9-]+?)-(\d{8})$/.exec(model);
  const base = dated?.[1] ?? model;
  if (base === 'claude-opus-4') return 'claude-opus-4-0';
  if (base === 'claude-sonnet-4') return 'claude-sonnet-4-0';
  return base;
}

/** The Bedrock id of an Anthropic model (before an inference profile prefix), or `undefined`. */
export function bedrockModelId(model: string): string | undefined {
  const alias = aliasOf(model);
  if (undated.includes(alias)) return `anthropic.${alias}-v1`;
  const date = snapshots[alias];
  if (date === undefined) return undefined;
  // Bedrock names the 4.0 models without the `-0`.
  return `anthropic.${alias.replace(/-4-0$/, '-4')}-${date}-v1:0`;
}

/** The Vertex AI id of an Anthropic model, or `undefined`. */
export function vertexModelId(model: string): string | undefined {
  const alias = aliasOf(model);
  if (undated.includes(alias)) return alias;
  const date = snapshots[alias];
  if (date === undefined) return undefined;
  return `${alias.replace(/-4-0$/, '-4')}@${date}`;
}

export interface ModelIdsOptions {
  /** The provider's built-in mapping; `undefined`: the Anthropic id itself (Anthropic, gateways). */
  builtIn?: ((model: string) => string | undefined) | undefined;
  /** The account's `model_ids`: Anthropic id → provider id, over the built-in mapping. */
  overrides?: Readonly<Record<string, string>> | undefined;
  /** The account's `models`: only these are served (any of their aliases or dated ids). */
  served?: readonly string[] | undefined;
  /** Put before every built-in id (a Bedrock inference profile: `us`, `eu`, `global`). */
  prefix?: string | undefined;
}

/** One account's model ids. */
export class ModelIds {
  readonly #opts: ModelIdsOptions;
  readonly #served: Set<string> | undefined;

  constructor(opts: ModelIdsOptions = {}) {
    this.#opts = opts;
    this.#served = opts.served === undefined ? undefined : new Set(opts.served.map(aliasOf));
  }

  /** The provider's id of this Anthropic model, `undefined` when the account does not serve it. */
  idOf(model: string): string | undefined {
    if (this.#served !== undefined && !this.#served.has(aliasOf(model))) return undefined;
    const overrides = this.#opts.overrides;
    if (overrides !== undefined) {
      const own = Object.hasOwn(overrides, model) ? overrides[model] : undefined;
      const byAlias = Object.hasOwn(overrides, aliasOf(model)) ? overrides[aliasOf(model)] : undefined;
      if (own ?? byAlias) return own ?? byAlias;
    }
    const builtIn = this.#opts.builtIn;
    if (builtIn === undefined) return model;
    const id = builtIn(model);
    if (id === undefined) return undefined;
    return this.#opts.prefix === undefined ? id : `${this.#opts.prefix}.${id}`;
  }
}
