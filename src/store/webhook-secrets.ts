/**
 * A tenant's default webhook: its receiver URL and its `whsec_…` signing secret, in the tenant's
 * hash. The secret must be read back to sign, so it cannot be kept as a digest like the tenant's
 * token: it is encrypted (AES-256-GCM, the tenant's key name as associated data) with a key derived
 * by HKDF-SHA256 from the server's own secret (`PROMPTQ_WEBHOOK_SECRET`). Redis never holds it in
 * clear; the secret is handed back once, when made.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../core/errors.js';
import type { RedisConnection as Redis } from './connection.js';
import type { Keyspace } from './keys.js';
import { TenantError, tenantNamePattern } from './tenant-store.js';

/** A new Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The key that encrypts tenants' secrets at rest, derived from the server's secret. */
export function secretsKey(serverSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', serverSecret, 'promptq', 'tenant webhook secrets at rest', 32));
}

function seal(key: Buffer, plain: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

function open(key: Buffer, sealed: string, aad: string): string {
  const raw = Buffer.from(sealed.slice(3), 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12)).setAAD(Buffer.from(aad));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

export interface TenantWebhook {
  url: string | null;
  /** `null` when the tenant has none, or it cannot be decrypted (the server secret changed). */
  secret: string | null;
}

/** The default webhooks of one queue's tenants. */
export class TenantWebhooks {
  readonly #redis: Redis;
  readonly #keys: Keyspace;
  readonly #key: Buffer | undefined;

  /** `serverSecret`: `PROMPTQ_WEBHOOK_SECRET`; without it secrets can be neither made nor read. */
  constructor(redis: Redis, keys: Keyspace, serverSecret: string | undefined) {
    this.#redis = redis;
    this.#keys = keys;
    this.#key = serverSecret === undefined ? undefined : secretsKey(serverSecret);
  }

  #requireKey(): Buffer {
    if (this.#key === undefined) {
      throw new ConfigError(
        'PROMPTQ_WEBHOOK_SECRET',
        "must be set: tenants' webhook secrets are encrypted with a key derived from it",
      );
    }
    return this.#key;
  }

  async #requireTenant(name: string): Promise<string> {
    const key = this.#keys.tenant(name);
    if (!tenantNamePattern.test(name) || (await this.#redis.exists(key)) === 0) {
      throw new TenantError('not_found', `no tenant "${name}"`);
    }
    return key;
  }

  /**
   * Set (or, `null`, remove) the tenant's default receiver. A tenant without a secret gets one:
   * it is returned, the only time it is seen.
   */
  async setUrl(name: string, url: string | null): Promise<{ secret: string | undefined }> {
    const key = await this.#requireTenant(name);
    if (url === null) {
      await this.#redis.hdel(key, 'webhook_url');
      return { secret: undefined };
    }
    const enc = this.#requireKey();
    const secret = (await this.#redis.hexists(key, 'webhook_secret')) ? undefined : newWebhookSecret();
    await this.#redis.hset(key, {
      webhook_url: url,
      ...(secret === undefined ? {} : { webhook_secret: seal(enc, secret, key) }),
    });
    return { secret };
  }

  /** A new secret for the tenant (the old one stops signing at once); returned once. */
  async rotateSecret(name: string): Promise<string> {
    const key = await this.#requireTenant(name);
    const secret = newWebhookSecret();
    await this.#redis.hset(key, 'webhook_secret', seal(this.#requireKey(), secret, key));
    return secret;
  }

  /** The tenant's receiver and secret (`null` fields when it has none). */
  async get(name: string): Promise<TenantWebhook> {
    if (!tenantNamePattern.test(name)) return { url: null, secret: null };
    const key = this.#keys.tenant(name);
    const [url, sealed] = await this.#redis.hmget(key, 'webhook_url', 'webhook_secret');
    let secret: string | null = null;
    if (sealed && this.#key !== undefined) {
      try {
        secret = open(this.#key, sealed, key);
      } catch {
        secret = null;
      }
    }
    return { url: url ?? null, secret };
  }
}
