import { SetMetadata } from '@nestjs/common';
import type { Role } from '@agenthub/db';

export type Access = { kind: 'public' } | { kind: 'admin' } | { kind: 'key'; minimum: Role };
export const ACCESS = 'agenthub:access';

/** No credentials needed (health, docs). */
export const Public = () => SetMetadata(ACCESS, { kind: 'public' } satisfies Access);
/** The operator's admin token only (organizations, backups). */
export const AdminOnly = () => SetMetadata(ACCESS, { kind: 'admin' } satisfies Access);
/**
 * An organization key with at least this role. Routes without a decorator need `viewer` for GET/HEAD and
 * `member` for everything else: viewers read, members write.
 */
export const MinRole = (minimum: Role) => SetMetadata(ACCESS, { kind: 'key', minimum } satisfies Access);
