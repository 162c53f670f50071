/**
 * {@link SimulatorOptions} → {@link ResolvedOptions}: the defaults (options.ts) applied, every
 * value checked; a bad one throws {@link SimulatorOptionError} naming its field.
 */
import { resolveBatchesOptions } from './batches-options.js';
import { defaultCacheMinTokens, defaultGroupOf, defaultMaxOutputTokens } from './models.js';
import {
  DEFAULTS,
  type FaultRates,
  type OutputDistribution,
  type ResolvedOptions,
  type SimulatorOptions,
} from './options.js';
import type { LimitSet, Limits } from './types.js';

/** Thrown for an invalid option; the message names the field. */
export class SimulatorOptionError extends Error {
  override readonly name = 'SimulatorOptionError';
}

function check(ok: boolean, field: string, rule: string, value: unknown): void {
  if (!ok) throw new SimulatorOptionError(`${field} must be ${rule} (got ${JSON.stringify(value)})`);
}

function nonNegative(value: number, field: string): number {
  check(
    typeof value === 'number' && Number.isFinite(value) && value >= 0,
    field,
    'a finite number >= 0',
    value,
  );
  return value;
}

function probability(value: number, field: string): number {
  check(typeof value === 'number' && value >= 0 && value <= 1, field, 'a probability in [0, 1]', value);
  return value;
}

function validLimits(limits: Partial<Limits>, field: string): void {
  for (const key of ['rpm', 'itpm', 'otpm'] as const) {
    const v = limits[key];
    if (v !== undefined) nonNegative(v, `${field}.${key}`);
  }
}

/**
 * Merges a partial limit set over a complete one. `announced` is replaced as a whole when present
 * (`null` clears it).
 */
export function mergeLimits(base: LimitSet, patch: Partial<LimitSet>, field = 'limits'): LimitSet {
  check(typeof patch === 'object' && patch !== null, field, 'an object', patch);
  validLimits(patch, field);
  if (patch.announced) validLimits(patch.announced, `${field}.announced`);
  const merged: LimitSet = {
    rpm: patch.rpm ?? base.rpm,
    itpm: patch.itpm ?? base.itpm,
    otpm: patch.otpm ?? base.otpm,
    announced: base.announced,
  };
  if (patch.announced !== undefined) merged.announced = patch.announced ? { ...patch.announced } : null;
  return merged;
}

function perModel(
  value: number | ((model: string) => number) | undefined,
  field: string,
  fallback: (m: string) => number,
) {
  if (value === undefined) return fallback;
  if (typeof value === 'function') return value;
  nonNegative(value, field);
  return () => value;
}

/** Applies defaults and validates; throws {@link SimulatorOptionError} naming the bad field. */
export function resolveOptions(opts: SimulatorOptions = {}): ResolvedOptions {
  const { host, port, seed } = resolveListen(opts);
  const groupLimits: Record<string, Partial<LimitSet>> = {};
  for (const [group, patch] of Object.entries(opts.groupLimits ?? {})) {
    mergeLimits(DEFAULTS.limits, patch, `groupLimits.${group}`);
    groupLimits[group] = patch;
  }
  const faults = resolveFaults(opts.faults);
  const output = resolveOutput(opts.output);
  const { tokensPerDelta, maxBodyBytes, shortIntervalSeconds } = resolveSizes(opts);
  checkHooks(opts);
  const resolvedBatches = resolveBatchesOptions(opts.batches);
  if (typeof resolvedBatches === 'string') throw new SimulatorOptionError(resolvedBatches);
  return {
    host,
    port,
    apiKey: opts.apiKey,
    seed,
    limits: mergeLimits(DEFAULTS.limits, opts.limits ?? {}),
    groupLimits,
    groupOf: opts.groupOf ?? defaultGroupOf,
    startEmpty: opts.startEmpty ?? DEFAULTS.startEmpty,
    shortIntervalSeconds,
    rateLimitHeaders: opts.rateLimitHeaders ?? DEFAULTS.rateLimitHeaders,
    latencyMs: nonNegative(opts.latencyMs ?? DEFAULTS.latencyMs, 'latencyMs'),
    ttftMs: nonNegative(opts.ttftMs ?? DEFAULTS.ttftMs, 'ttftMs'),
    msPerToken: nonNegative(opts.msPerToken ?? DEFAULTS.msPerToken, 'msPerToken'),
    tokensPerDelta,
    faults,
    output,
    maxBodyBytes,
    bedrockTpm: nonNegative(opts.bedrockTpm ?? DEFAULTS.bedrockTpm, 'bedrockTpm'),
    maxOutputTokens: perModel(opts.maxOutputTokens, 'maxOutputTokens', defaultMaxOutputTokens),
    cacheMinTokens: perModel(opts.cacheMinTokens, 'cacheMinTokens', defaultCacheMinTokens),
    requireVersionHeader: opts.requireVersionHeader ?? DEFAULTS.requireVersionHeader,
    now: opts.now ?? Date.now,
    onServed: opts.onServed,
    priorityTier: opts.priorityTier === true,
    onArrival: opts.onArrival,
    batches: resolvedBatches,
  };
}

/** Where to listen, the API key, the seed. */
function resolveListen(opts: SimulatorOptions): { host: string; port: number; seed: number } {
  const port = opts.port ?? DEFAULTS.port;
  check(Number.isInteger(port) && port >= 0 && port <= 65_535, 'port', 'an integer in [0, 65535]', port);
  const host = opts.host ?? DEFAULTS.host;
  check(typeof host === 'string' && host.length > 0, 'host', 'a non-empty string', host);
  if (opts.apiKey !== undefined) {
    // Never echo the key itself, even in a validation error.
    check(
      typeof opts.apiKey === 'string' && opts.apiKey.length > 0,
      'apiKey',
      'a non-empty string',
      '<redacted>',
    );
  }
  const seed = opts.seed ?? DEFAULTS.seed;
  check(Number.isInteger(seed), 'seed', 'an integer', seed);
  return { host, port, seed };
}

function resolveFaults(given: FaultRates | undefined): Required<FaultRates> {
  const faults = { ...DEFAULTS.faults, ...given };
  for (const [key, value] of Object.entries(faults)) probability(value, `faults.${key}`);
  const faultSum = Object.values(faults).reduce((a, b) => a + b, 0);
  check(faultSum <= 1, 'faults', 'probabilities summing to at most 1', faults);
  return faults;
}

function resolveOutput(given: OutputDistribution | undefined): Required<OutputDistribution> {
  const output = { ...DEFAULTS.output, ...given };
  nonNegative(output.minFraction, 'output.minFraction');
  nonNegative(output.maxFraction, 'output.maxFraction');
  check(
    output.maxFraction >= output.minFraction,
    'output.maxFraction',
    '>= output.minFraction',
    output.maxFraction,
  );
  nonNegative(output.cap, 'output.cap');
  probability(output.stopSequenceRate, 'output.stopSequenceRate');
  return output;
}

/** Stream granularity, body size, the hidden short interval. */
function resolveSizes(
  opts: SimulatorOptions,
): Pick<ResolvedOptions, 'tokensPerDelta' | 'maxBodyBytes' | 'shortIntervalSeconds'> {
  const tokensPerDelta = opts.tokensPerDelta ?? DEFAULTS.tokensPerDelta;
  check(
    Number.isInteger(tokensPerDelta) && tokensPerDelta >= 1,
    'tokensPerDelta',
    'an integer >= 1',
    tokensPerDelta,
  );
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  check(Number.isInteger(maxBodyBytes) && maxBodyBytes >= 1, 'maxBodyBytes', 'an integer >= 1', maxBodyBytes);
  const shortIntervalSeconds = opts.shortIntervalSeconds ?? DEFAULTS.shortIntervalSeconds;
  check(
    typeof shortIntervalSeconds === 'number' && shortIntervalSeconds >= 0 && shortIntervalSeconds <= 60,
    'shortIntervalSeconds',
    'a number of seconds in [0, 60]',
    shortIntervalSeconds,
  );
  return { tokensPerDelta, maxBodyBytes, shortIntervalSeconds };
}

/** The options that are functions. */
function checkHooks(opts: SimulatorOptions): void {
  check(
    opts.groupOf === undefined || typeof opts.groupOf === 'function',
    'groupOf',
    'a function',
    typeof opts.groupOf,
  );
  check(opts.now === undefined || typeof opts.now === 'function', 'now', 'a function', typeof opts.now);
  check(
    opts.onServed === undefined || typeof opts.onServed === 'function',
    'onServed',
    'a function',
    typeof opts.onServed,
  );
  check(
    opts.onArrival === undefined || typeof opts.onArrival === 'function',
    'onArrival',
    'a function',
    typeof opts.onArrival,
  );
}
