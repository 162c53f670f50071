import { createHash } from 'node:crypto';
import type { CacheTtl, PromptSegment } from './tokenizer.js';

/** How the input of one request splits between cache reads, cache writes and plain input. */
export interface CacheUsage {
  /** Input tokens after the last cache breakpoint (or all of them without caching). */
  inputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  /** `cacheCreationInputTokens` split by the TTL the breakpoints asked for. */
  ephemeral5mInputTokens: number;
  ephemeral1hInputTokens: number;
}

/** A computed split plus the cache writes to apply only if the request is admitted. */
export interface CachePlan {
  usage: CacheUsage;
  /**
   * Apply the writes at `now`; other requests can read them from `readableAt` (default `now`): as at
   * the real API, a cache entry becomes available once the writing request's answer begins, so
   * requests sent before that write it again.
   */
  commit(now: number, readableAt?: number): void;
}

const TTL_MS: Record<CacheTtl, number> = { '5m': 5 * 60_000, '1h': 60 * 60_000 };
/** The real API looks for hits at up to 20 block boundaries before each breakpoint. */
const LOOKBACK_BLOCKS = 20;
/** Expired entries are swept once the map grows past this, keeping memory bounded in long runs. */
const SWEEP_THRESHOLD = 50_000;

interface Entry {
  expiresAt: number;
  ttlMs: number;
  /** Requests read it from then on (its writer's answer began). */
  readableAt: number;
}

/**
 * Prompt-cache bookkeeping as the real API reports it: a breakpoint writes the prefix up to its
 * block (if at least the model's minimum length); a later request whose prefix hash matches an
 * unexpired entry that is readable already (its writer's answer began) reads it, which also
 * refreshes the entry's lifetime.
 */
export class PromptCache {
  readonly #entries = new Map<string, Entry>();

  /** Splits the input of a request; call `commit` once the request is admitted. */
  plan(model: string, segments: readonly PromptSegment[], minTokens: number, now: number): CachePlan {
    const hash = createHash('sha256').update(model);
    const digests: string[] = [];
    const cumulative: number[] = [];
    let total = 0;
    for (const segment of segments) {
      hash.update(`\u0000${segment.key}`);
      digests.push(hash.copy().digest('base64url'));
      total += segment.tokens;
      cumulative.push(total);
    }
    const breakpoints = segments.flatMap((s, i) => (s.cacheControl ? [i] : []));

    let hit = -1;
    for (const bp of breakpoints) {
      for (let j = bp; j >= Math.max(0, bp - LOOKBACK_BLOCKS) && j > hit; j--) {
        const entry = this.#entries.get(digests[j] ?? '');
        if (entry && entry.expiresAt > now && entry.readableAt <= now) {
          hit = j;
          break;
        }
      }
    }
    const read = hit >= 0 ? (cumulative[hit] ?? 0) : 0;

    const writes: Array<{ digest: string; ttlMs: number }> = [];
    let covered = read;
    let created5m = 0;
    let created1h = 0;
    for (const bp of breakpoints) {
      const upTo = cumulative[bp] ?? 0;
      const ttl = segments[bp]?.cacheControl;
      if (bp <= hit || upTo < minTokens || !ttl) continue;
      if (ttl === '1h') created1h += upTo - covered;
      else created5m += upTo - covered;
      covered = upTo;
      writes.push({ digest: digests[bp] ?? '', ttlMs: TTL_MS[ttl] });
    }

    const created = created5m + created1h;
    const usage: CacheUsage = {
      inputTokens: total - read - created,
      cacheCreationInputTokens: created,
      cacheReadInputTokens: read,
      ephemeral5mInputTokens: created5m,
      ephemeral1hInputTokens: created1h,
    };
    const hitDigest = hit >= 0 ? digests[hit] : undefined;
    return {
      usage,
      commit: (at: number, readableAt = at) => {
        if (hitDigest) {
          const entry = this.#entries.get(hitDigest);
          if (entry) entry.expiresAt = at + entry.ttlMs;
        }
        for (const w of writes) {
          // A write of an entry still being written (sent before its first writer's answer began)
          // does not make it readable later than that first write does.
          const earlier = this.#entries.get(w.digest);
          const from =
            earlier && earlier.expiresAt > at ? Math.min(earlier.readableAt, readableAt) : readableAt;
          this.#entries.set(w.digest, { expiresAt: at + w.ttlMs, ttlMs: w.ttlMs, readableAt: from });
        }
        if (this.#entries.size > SWEEP_THRESHOLD) this.#sweep(at);
      },
    };
  }

  /** Forgets every entry. */
  clear(): void {
    this.#entries.clear();
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }
}
