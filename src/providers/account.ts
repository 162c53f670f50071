/** How a provider names its account to the limiter without ever handing it a secret. */
import { createHash } from 'node:crypto';

/**
 * A short, one-way fingerprint of an account's credentials (and endpoint): separates accounts'
 * limiter state in Redis without storing the credentials. Nothing given: `default`.
 */
export function accountFingerprint(credentials: string | undefined): string {
  if (!credentials) return 'default';
  return createHash('sha256').update(`promptq:${credentials}`).digest('hex').slice(0, 12);
}
