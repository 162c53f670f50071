/**
 * A tenant's default webhook: its receiver URL and its `whsec_…` signing secret, in the tenant's
 * hash. The secret must be read back to sign, so it cannot be kept as a digest like the tenant's
 * token: it is encrypted (AES-256-GCM, the tenant's key name as associated data) with a key derived
 * by HKDF-SHA256 from a master secret of its own, `PROMPTQ_SECRETS_KEY` — never from
 * `PROMPTQ_WEBHOOK_SECRET`, which the admin's receivers hold to verify. Redis never holds a secret
 * in clear; the secret is handed back once, when made.
 *
 * Sealed values are versioned: `v2.` (the key from `PROMPTQ_SECRETS_KEY`); `v1.` (written before
 * 0.2, the key from `PROMPTQ_WEBHOOK_SECRET`) is still read, and sealed again as `v2.` on the first
 * read that can. A sealed secret that cannot be opened is never "no secret": {@link TenantWebhook}
 * says why, and the delivery worker holds the tenant's deliveries until it is re-set.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../core/errors.js';
import type { WebhooksConfig } from '../core/settings.js';
import type { RedisConnection as Redis } from './connection.js';
import type { Keyspace } from './keys.js';
import { TenantError, tenantNamePattern } from './tenant-store.js';

/** A new Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The key that encrypts tenants' secrets at rest (`v2.`), derived from `PROMPTQ_SECRETS_KEY`. */
export function secretsKey(masterSecret: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', masterSecret, 'promptq', 'promptq v2: tenant webhook secrets at rest', 32),
  );
}

/** The key of `v1.` values (read only): derived from `PROMPTQ_WEBHOOK_SECRET`. */
function legacyKey(webhookSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', webhookSecret, 'promptq', 'tenant webhook secrets at rest', 32));
}

function seal(key: Buffer, plain: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `v2.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

/** The plain text, or `undefined` when the key is not the one it was sealed with (or it is damaged). */
function open(key: Buffer, sealed: string, aad: string): string | undefined {
  try {
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12)).setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

export interface TenantWebhook {
  url: string | null;
  /** `null` when the tenant has none, or it cannot be read (then `unreadable` says why). */
  secret: string | null;
  /** Set when the tenant has a sealed secret that cannot be decrypted: it must be re-set. */
  unreadable?: string;
}

/** Replace the sealed value only if it is still the one read (a rotation in between wins). */
const resealScript = `if redis.call('HGET', KEYS[1], 'webhook_secret') == ARGV[1] then
  return redis.call('HSET', KEYS[1], 'webhook_secret', ARGV[2]) end return 0`;

/**
 * Set an existing tenant's receiver, and its sealed secret only if it has none: 0 = no tenant,
 * 1 = set (the secret kept), 2 = set with the new secret.
 */
const setUrlScript = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'webhook_url', ARGV[1])
return 1 + redis.call('HSETNX', KEYS[1], 'webhook_secret', ARGV[2])`;

/** Replace an existing tenant's sealed secret: 0 = no tenant, 1 = replaced. */
const rotateScript = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'webhook_secret', ARGV[1]) return 1`;

/** The default webhooks of one queue's tenants. */
export class TenantWebhooks {
  readonly #redis: Redis;
  readonly #keys: Keyspace;
  readonly #key: Buffer | undefined;
  readonly #legacy: Buffer | undefined;

  /**
   * `secrets.secretsKey`: `PROMPTQ_SECRETS_KEY`, without which secrets can be neither made nor read;
   * `secrets.secret`: `PROMPTQ_WEBHOOK_SECRET`, only to read values sealed before it was separate.
   */
  constructor(redis: Redis, keys: Keyspace, secrets: Pick<WebhooksConfig, 'secret' | 'secretsKey'>) {
    this.#redis = redis;
    this.#keys = keys;
    this.#key = secrets.secretsKey === undefined ? undefined : secretsKey(secrets.secretsKey);
    this.#legacy = secrets.secret === undefined ? undefined : legacyKey(secrets.secret);
  }

  #requireKey(): Buffer {
    if (this.#key === undefined) {
      throw new ConfigError(
        'PROMPTQ_SECRETS_KEY',
        "must be set: tenants' webhook secrets are encrypted at rest with a key derived from it",
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
    // One script: two concurrent calls cannot both make a secret (the one handed back must be the
    // one that signs).
    const secret = newWebhookSecret();
    const set = Number(
      await this.#redis.eval(setUrlScript, 1, key, url, seal(this.#requireKey(), secret, key)),
    );
    if (set === 0) throw new TenantError('not_found', `no tenant "${name}"`);
    return { secret: set === 2 ? secret : undefined };
  }

  /** A new secret for the tenant (the old one stops signing at once); returned once. */
  async rotateSecret(name: string): Promise<string> {
    const key = await this.#requireTenant(name);
    const secret = newWebhookSecret();
    const set = Number(await this.#redis.eval(rotateScript, 1, key, seal(this.#requireKey(), secret, key)));
    if (set === 0) throw new TenantError('not_found', `no tenant "${name}"`);
    return secret;
  }

  /**
   * The tenant's default receiver (`null`: none), and whether the tenant has a record at all (one
   * HMGET: `created_at` is in every tenant's hash). The secret is not read: the deliverer reads it.
   */
  async defaultUrl(name: string): Promise<{ url: string | null; exists: boolean }> {
    if (!tenantNamePattern.test(name)) return { url: null, exists: false };
    const [url, created] = await this.#redis.hmget(this.#keys.tenant(name), 'webhook_url', 'created_at');
    return { url: url ?? null, exists: url !== null || created !== null };
  }

  /** The tenant's receiver and secret (`null` fields when it has none; `unreadable` when it cannot be read). */
  async get(name: string): Promise<TenantWebhook> {
    if (!tenantNamePattern.test(name)) return { url: null, secret: null };
    const key = this.#keys.tenant(name);
    const [url, sealed] = await this.#redis.hmget(key, 'webhook_url', 'webhook_secret');
    if (!sealed) return { url: url ?? null, secret: null };
    const opened = await this.#open(key, sealed);
    return typeof opened === 'string'
      ? { url: url ?? null, secret: opened }
      : { url: url ?? null, secret: null, unreadable: opened.unreadable };
  }

  async #open(key: string, sealed: string): Promise<string | { unreadable: string }> {
    if (sealed.startsWith('v1.')) {
      const plain = this.#legacy === undefined ? undefined : open(this.#legacy, sealed, key);
      if (plain === undefined) {
        return {
          unreadable: 'sealed with a key derived from PROMPTQ_WEBHOOK_SECRET, which is unset or changed',
        };
      }
      if (this.#key !== undefined) {
        await this.#redis.eval(resealScript, 1, key, sealed, seal(this.#key, plain, key));
      }
      return plain;
    }
    if (this.#key === undefined) return { unreadable: 'PROMPTQ_SECRETS_KEY is not set' };
    return (
      open(this.#key, sealed, key) ?? { unreadable: 'sealed with another PROMPTQ_SECRETS_KEY, or damaged' }
    );
  }
}
