import { createHmac, createSecretKey, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';

/** Injection token of the process's AuditMacKey (DbModule.forRoot({ auditMacKey })). */
export const AUDIT_MAC_KEY = Symbol('AUDIT_MAC_KEY');

const HKDF_SALT = 'agenthub audit';
const HKDF_INFO = 'audit-entry-mac v1';

/**
 * The server's key for the HMAC-SHA256 every audit entry gets when it is inserted (AuditLogRepository). Whoever
 * can write the database but does not hold this key cannot make a pending entry, or change one, so that it still
 * verifies. The key material stays inside this object: printing, logging or serialising it shows only its name.
 */
export class AuditMacKey {
  readonly #key: KeyObject;

  private constructor(material: Buffer) {
    this.#key = createSecretKey(material);
  }

  /** A configured secret (AUDIT_MAC_KEY), used as it is. */
  static fromSecret(secret: string): AuditMacKey {
    if (secret.length < 32) throw new Error('an audit MAC key needs at least 32 characters');
    return new AuditMacKey(Buffer.from(secret, 'utf8'));
  }

  /**
   * A key derived (HKDF-SHA256) from another secret of the deployment, e.g. the admin token, so that a deployment
   * that never configured a MAC key still has one that is stable across restarts and replicas.
   */
  static derive(secret: string): AuditMacKey {
    if (secret.length < 24) throw new Error('an audit MAC key is derived from a secret of at least 24 characters');
    return new AuditMacKey(Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), HKDF_SALT, HKDF_INFO, 32)));
  }

  /** HMAC-SHA256 of the text, hex. */
  mac(text: string): string {
    return createHmac('sha256', this.#key).update(text, 'utf8').digest('hex');
  }

  /** Constant-time comparison of the text's MAC with a stored one. */
  verify(text: string, mac: string): boolean {
    const expected = Buffer.from(this.mac(text), 'hex');
    const given = /^[0-9a-f]{64}$/.test(mac) ? Buffer.from(mac, 'hex') : null;
    return given !== null && timingSafeEqual(expected, given);
  }

  toString(): string {
    return '[AuditMacKey]';
  }

  toJSON(): string {
    return '[AuditMacKey]';
  }

  [inspect.custom](): string {
    return '[AuditMacKey]';
  }
}
