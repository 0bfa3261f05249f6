// @agenthub/db — the data layer both apps share. Import from here only; the generated Prisma client stays inside.
export * from './lib/connection/database-config';
export { EMBEDDED_LIMITATIONS } from './lib/connection/embedded-database';
export { tryPidLock } from './lib/connection/pid-lock';
export { guardCheckedOut, pgPoolConfig, DEFAULT_VECTOR_SETTINGS } from './lib/connection/pg-adapter';
export * from './lib/db.module';
export * from './lib/errors';
export * from './lib/money';
export * from './lib/vector';
export * from './lib/canonical-json';
export * from './lib/search/search-options';
export { reciprocalRankFusion, RRF_K } from './lib/search/fusion';
export * from './lib/migrations';
export * from './lib/pagination';
export * from './lib/tenancy';
export { LISTENER_HEARTBEAT_MS, PgListener } from './lib/notifications/pg-listener';
export * from './lib/sessions/whole-database';
export { WholeDatabase, type DatabaseSnapshot, type LoadSession } from './lib/sessions/whole-database.service';
export { JobLockService, type HeldLock } from './lib/sessions/job-lock.service';
export { AUDIT_MAC_KEY, AuditMacKey } from './lib/audit/audit-mac-key';
export { AuditSealer, type AuditSealerOptions } from './lib/audit/audit-sealer';
export { type ReplicaStatus } from './lib/replicas/read-replicas';
export { DATABASE_TARGET, PrismaService, type Db, type SqlStatement, type TransactionOptions } from './lib/prisma.service';
export * from './lib/repositories';
// The Prisma namespace (Prisma.sql, Prisma.Decimal, JSON input types) for callers; never the client class.
export { Prisma } from './generated/prisma/client';
export type { Role, AgentType, ConversationStatus, MessageRole, MessageType, PaymentStatus } from './generated/prisma/enums';
