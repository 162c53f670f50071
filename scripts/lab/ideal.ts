/**
 * What a client with perfect knowledge could do: it knows the enforced limits (not what the headers
 * say), the other user's part, when the limits change and when the API is overloaded. Over the
 * measured interval it can use every bucket's refill; the resource it runs out of first (the
 * binding one) sets its throughput. Nothing here reads promptq's records: the lab compares this
 * allowance with what the model served, by the model's own counters.
 */
import type { ApiRequest, ApiSpec, Limits, Resource, ServedCounters } from './api-model.js';
import { ApiModel, resources } from './api-model.js';
import { type Condition, drawApiRequest } from './conditions.js';
import { Rng } from './rng.js';

/** Units of each resource the bucket set refills over [fromMs, toMs) (ms from the start). */
export function allowance(
  spec: ApiSpec,
  limits: Limits,
  fromMs: number,
  toMs: number,
  minBucket?: Limits,
): Limits {
  const out = { requests: 0, input_tokens: 0, output_tokens: 0 };
  const change = spec.limitChange;
  for (const r of resources) {
    const perMs = (factor: number) => (limits[r] * factor * (1 - spec.otherUser)) / 60_000;
    const capacity = (factor: number) =>
      Math.max((limits[r] * factor * spec.windowS) / 60, 1, minBucket?.[r] ?? 1);
    // Piecewise: before and after the change.
    const at = change ? Math.min(Math.max(change.atMs, fromMs), toMs) : toMs;
    const factorAfter = change?.factor ?? 1;
    let units = (at - fromMs) * perMs(1) + (toMs - at) * perMs(factorAfter);
    // Nothing is served during an overload burst; the buckets still fill up meanwhile (to capacity).
    for (const o of spec.overload) {
      const s = Math.max(o.startMs, fromMs);
      const e = Math.min(o.startMs + o.durationMs, toMs);
      if (e <= s) continue;
      const factor = change && s >= change.atMs ? factorAfter : 1;
      units -= (e - s) * perMs(factor);
      units += Math.min(capacity(factor), (e - s) * perMs(factor));
    }
    out[r] = units;
  }
  return out;
}

export interface SetUtilisation {
  /** The binding resource: the one used closest to its allowance. */
  binding: Resource;
  /** Its use / its allowance. */
  utilisation: number;
}

/** How close the served units came to the allowance, on the binding resource. */
export function utilisationOf(counters: ServedCounters, allowed: Limits): SetUtilisation {
  let best: SetUtilisation = { binding: 'requests', utilisation: 0 };
  for (const r of resources) {
    if (allowed[r] <= 0) continue;
    const u = counters.usedMeasured[r] / allowed[r];
    if (u > best.utilisation) best = { binding: r, utilisation: u };
  }
  return best;
}

/** The virtual epoch every condition starts at. */
export const START = Date.UTC(2026, 0, 1);

/**
 * The ideal client, run: the same model (a twin, its own draws from the same distributions) and
 * the same workload, sent by a client that sees the API's true buckets and sends each family's
 * next request the moment the API would take it — never refused, never late, unlimited slots. Its
 * served units over the measured interval are the ideal the real client is compared with: that
 * counts what no client can avoid (a long call's `max_tokens` held until it ends, an overload
 * burst, a limit that drops mid-run).
 */
export function idealRun(c: Condition, endMs: number): ApiModel {
  const model = new ApiModel(c.api, START, Rng.of(c.seed, c.index, 0x1dea));
  model.measureFrom = START + c.warmupMs;
  const rng = Rng.of(c.seed, c.index, 0x0ac1e);
  // One line of requests per bucket set (family, and its fast bucket): a request waiting for one
  // bucket set never holds back the other's.
  const lines = new Lines(c, rng);
  const ends: { at: number; id: number }[] = [];
  const end = START + endMs;
  let t = START;
  while (t < end) {
    while (ends.length > 0 && (ends[0] as { at: number }).at <= t) {
      const e = ends.shift() as { at: number; id: number };
      model.finish(e.id, e.at);
    }
    let wake = Math.min(end, ends[0]?.at ?? end);
    const over = model.overloadedUntil(t);
    if (over !== undefined) wake = Math.min(wake, over);
    else {
      for (const line of lines.keys) {
        for (;;) {
          const head = lines.head(line);
          const wait = model.waitMs(head, t);
          if (wait > 0) {
            wake = Math.min(wake, t + wait);
            break;
          }
          const reply = model.send(head, t);
          if (reply.status !== 200) throw new Error(`the ideal client was refused (${reply.status})`);
          insertSorted(ends, { at: t + reply.latencyMs, id: reply.id });
          lines.next(line);
        }
      }
      const change = c.api.limitChange;
      if (change && START + change.atMs > t) wake = Math.min(wake, START + change.atMs);
    }
    t = Math.max(wake, t + 0.001);
  }
  return model;
}

/** The ideal client's requests, one line per bucket set, drawn from the condition's workload. */
class Lines {
  readonly keys: string[] = [];
  readonly #queues = new Map<string, ApiRequest[]>();
  constructor(
    readonly c: Condition,
    readonly rng: Rng,
  ) {
    c.api.families.forEach((f, fam) => {
      this.keys.push(`${fam}:std`);
      if (f.fast && (c.workload[fam]?.fastShare ?? 0) > 0) this.keys.push(`${fam}:fast`);
    });
    for (const k of this.keys) this.#queues.set(k, []);
  }
  head(key: string): ApiRequest {
    const q = this.#queues.get(key) as ApiRequest[];
    const fam = Number(key.split(':')[0]);
    while (q.length === 0) {
      const r = drawApiRequest(this.c, fam, this.rng);
      this.#queues.get(`${fam}:${r.fast ? 'fast' : 'std'}`)?.push(r);
    }
    return q[0] as ApiRequest;
  }
  next(key: string): void {
    this.#queues.get(key)?.shift();
  }
}

function insertSorted(list: { at: number; id: number }[], item: { at: number; id: number }): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as { at: number }).at <= item.at) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}

/**
 * Per bucket set: the binding resource (the one the ideal client used closest to its allowance)
 * and the real client's use of it over the ideal client's, both over [warm-up, endMs).
 */
export function utilisationVsIdeal(
  c: Condition,
  real: ApiModel,
  ideal: ApiModel,
  endMs: number,
): SetResult[] {
  const idealSets = ideal.sets;
  return real.sets.flatMap((s, i) => {
    const is = idealSets[i];
    if (!is) return [];
    const minBucket = c.api.families[s.family]?.minBucket;
    const u = utilisationOf(is.counters, allowance(c.api, s.limits, c.warmupMs, endMs, minBucket));
    const idealUnits = is.counters.usedMeasured[u.binding];
    if (idealUnits <= 0) return [];
    const utilisation = s.counters.usedMeasured[u.binding] / idealUnits;
    return [{ family: s.family, fast: s.fast, binding: u.binding, utilisation, ofAllowance: u.utilisation }];
  });
}

export interface SetResult {
  family: number;
  fast: boolean;
  binding: Resource;
  /** The real client's use of the binding resource / the ideal client's. */
  utilisation: number;
  /** The ideal client's use of it / what the buckets refilled (how much of the allowance any client can use). */
  ofAllowance: number;
}
