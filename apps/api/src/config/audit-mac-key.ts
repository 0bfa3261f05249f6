import { AuditMacKey } from '@agenthub/db';
import type { ApiConfig } from './api-config';

/**
 * The key of the audit entries' MACs (AuditLogRepository in libs/db): AUDIT_MAC_KEY, or one derived with
 * HKDF-SHA256 from the admin token, which every deployment has (generated on the embedded database, required
 * with DATABASE_URL), so that none needs a new secret to start. Never logged (AuditMacKey prints as its name).
 */
export function resolveAuditMacKey(config: Pick<ApiConfig, 'AUDIT_MAC_KEY'>, adminToken: string): AuditMacKey {
  return config.AUDIT_MAC_KEY ? AuditMacKey.fromSecret(config.AUDIT_MAC_KEY) : AuditMacKey.derive(adminToken);
}
