import type { OutputDistribution } from './options.js';
import type { Rng } from './rng.js';

/** Why generation stopped, as in the real API. */
export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

/** A generated answer: its tokens (as text pieces) and how it ended. */
export interface OutputPlan {
  /** One string per output token; joined they form the answer text. */
  pieces: string[];
  stopReason: StopReason;
  stopSequence: string | null;
}

// Words of at most five letters so that each piece is exactly one token for the simulator's own
// tokenizer: the reported output_tokens then agree with estimateSimTokens(text).
const WORDS = [
  'the',
  'queue',
  'job',
  'token',
  'rate',
  'limit',
  'model',
  'reply',
  'batch',
  'retry',
  'work',
  'fast',
  'calm',
  'data',
  'and',
  'with',
  'each',
  'call',
  'time',
  'cache',
];

/** How many output tokens a request produces, and why it stops. */
export function drawLength(
  rng: Rng,
  maxTokens: number,
  dist: Required<OutputDistribution>,
  stopSequences: readonly string[],
  forced?: number,
): { tokens: number; stopReason: StopReason; stopSequence: string | null } {
  let n: number;
  if (forced !== undefined) {
    n = Math.max(1, Math.floor(forced));
  } else {
    const u = dist.minFraction + (dist.maxFraction - dist.minFraction) * rng();
    n = Math.max(1, Math.round(maxTokens * u));
    // The cap models answers that end naturally, so it only applies below max_tokens.
    if (dist.cap > 0 && n > dist.cap && dist.cap < maxTokens) n = dist.cap;
  }
  if (n >= maxTokens) return { tokens: maxTokens, stopReason: 'max_tokens', stopSequence: null };
  const first = stopSequences[Math.floor(rng() * stopSequences.length)];
  if (first !== undefined && forced === undefined && rng() < dist.stopSequenceRate) {
    return { tokens: n, stopReason: 'stop_sequence', stopSequence: first };
  }
  return { tokens: n, stopReason: 'end_turn', stopSequence: null };
}

/**
 * The answer text as `tokens` pieces: words with an occasional comma or full stop, each piece one
 * token. (The stop sequence itself is not part of the text, as in the real API.)
 */
export function generatePieces(rng: Rng, tokens: number): string[] {
  const pieces: string[] = [];
  let sentenceStart = true;
  while (pieces.length < tokens) {
    const previous = pieces[pieces.length - 1];
    const previousWasWord = previous !== undefined && previous !== '.' && previous !== ',';
    const r = rng();
    if (previousWasWord && pieces.length >= 3 && r < 0.12) {
      const stop = r < 0.07 ? '.' : ',';
      pieces.push(stop);
      sentenceStart = stop === '.';
      continue;
    }
    const word = WORDS[Math.floor(rng() * WORDS.length)] ?? 'the';
    const text = sentenceStart ? word.charAt(0).toUpperCase() + word.slice(1) : word;
    pieces.push(pieces.length === 0 ? text : ` ${text}`);
    sentenceStart = false;
  }
  return pieces;
}

/** Length and text of one answer. */
export function planOutput(
  rng: Rng,
  maxTokens: number,
  dist: Required<OutputDistribution>,
  stopSequences: readonly string[],
  forced?: number,
): OutputPlan {
  const { tokens, stopReason, stopSequence } = drawLength(rng, maxTokens, dist, stopSequences, forced);
  return { pieces: generatePieces(rng, tokens), stopReason, stopSequence };
}
