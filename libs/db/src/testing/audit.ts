import { AuditMacKey } from '../lib/audit/audit-mac-key';

/** The audit MAC key of the tests (a repository without one cannot append or verify audit entries). */
export const TEST_AUDIT_MAC_KEY = AuditMacKey.fromSecret('agenthub tests: audit entry MAC key, not a secret');
