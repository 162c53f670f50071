/**
 * Redacted thinking, as the real API does it: when the prompt carries Anthropic's documented test
 * string, an answer with thinking enabled also holds a `redacted_thinking` block — opaque `data`,
 * streamed whole in its `content_block_start`, no deltas. Sent back in a later turn the block must be
 * exactly what the API returned: any other `data` is a 400 (`Invalid \`data\` in
 * \`redacted_thinking\` block`). The data here carries an HMAC under a per-process key, so the
 * simulator can tell its own blocks from made-up ones.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The string that makes the API redact thinking (Anthropic's extended-thinking docs). */
export const REDACTED_THINKING_TRIGGER =
  'ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB';

const key = randomBytes(32);
const nonceBytes = 64;
const macBytes = 32;

function mac(nonce: Buffer): Buffer {
  return createHmac('sha256', key).update(nonce).digest();
}

/** Opaque data for a new redacted block. */
export function redactedThinkingData(): string {
  const nonce = randomBytes(nonceBytes);
  return Buffer.concat([nonce, mac(nonce)]).toString('base64');
}

/** Did this simulator process return this data? */
export function isRedactedThinkingData(data: unknown): boolean {
  if (typeof data !== 'string') return false;
  const raw = Buffer.from(data, 'base64');
  if (raw.length !== nonceBytes + macBytes || raw.toString('base64') !== data) return false;
  return timingSafeEqual(raw.subarray(nonceBytes), mac(raw.subarray(0, nonceBytes)));
}

/** Does the conversation carry the trigger string anywhere? */
export function asksForRedaction(messages: unknown): boolean {
  return JSON.stringify(messages ?? null).includes(REDACTED_THINKING_TRIGGER);
}
