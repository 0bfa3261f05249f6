import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Prisma } from '../../generated/prisma/client';
import type { Role } from '../../generated/prisma/enums';
import { PrismaService, type Db } from '../prisma.service';
import { NotFoundError } from '../errors';
import { checkText, throwIfProblems, type Problem } from '../validation';
import { createdAtAfter, isUuid, pageSize, toPage, type Page } from '../pagination';

export const API_KEY_SELECT = {
  id: true,
  organizationId: true,
  userId: true,
  name: true,
  role: true,
  prefix: true,
  lastUsedAt: true,
  revokedAt: true,
  createdAt: true,
} satisfies Prisma.ApiKeySelect;
export type ApiKeyRow = Prisma.ApiKeyGetPayload<{ select: typeof API_KEY_SELECT }>;

const KEY_PREFIX = 'ahk_';
const PREFIX_LENGTH = KEY_PREFIX.length + 8;

/**
 * Keys are 32 random bytes (base64url) behind a recognisable prefix. Only SHA-256 of the key is stored: the key
 * has 256 bits of entropy, so a slow password hash would add latency to every request and no security.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateApiKey(): { key: string; prefix: string; keyHash: string } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, PREFIX_LENGTH), keyHash: hashApiKey(key) };
}

/** NOTIFY channel: a key was revoked or a user deleted somewhere; every API replica drops its cached keys. */
export const API_KEYS_CHANGED_CHANNEL = 'agenthub_auth_changed';

@Injectable()
export class ApiKeyRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /** Tells every listener on API_KEYS_CHANGED_CHANNEL that keys changed, when `tx` commits (NOTIFY is transactional). */
  async announceChanged(tx: Db): Promise<void> {
    await tx.$executeRaw`select pg_notify(${API_KEYS_CHANGED_CHANNEL}, '')`;
  }

  /** Returns the row and the secret; the secret is never stored nor retrievable again. */
  async create(
    organizationId: string,
    input: { name: string; role: Role; userId?: string | null },
    db: Db = this.prisma,
  ): Promise<{ apiKey: ApiKeyRow; key: string }> {
    const problems: Problem[] = [];
    checkText(input.name, 'name', problems, 1000);
    throwIfProblems(problems, 'invalid api key');
    if (input.userId && !(isUuid(input.userId) && (await db.user.count({ where: { id: input.userId, organizationId } })))) {
      throw new NotFoundError('user', input.userId);
    }
    const { key, prefix, keyHash } = generateApiKey();
    const apiKey = await db.apiKey.create({
      data: { organizationId, name: input.name, role: input.role, userId: input.userId ?? null, prefix, keyHash },
      select: API_KEY_SELECT,
    });
    return { apiKey, key };
  }

  /** The key's row if it exists and is not revoked: what authentication needs. */
  async findActiveByKey(key: string, db: Db = this.prisma): Promise<ApiKeyRow | null> {
    if (!key.startsWith(KEY_PREFIX)) return null;
    const row = await db.apiKey.findUnique({ where: { keyHash: hashApiKey(key) }, select: API_KEY_SELECT });
    return row && !row.revokedAt ? row : null;
  }

  async findById(organizationId: string, id: string, db: Db = this.prisma): Promise<ApiKeyRow | null> {
    if (!isUuid(id)) return null;
    return db.apiKey.findFirst({ where: { id, organizationId }, select: API_KEY_SELECT });
  }

  async listPage(
    organizationId: string,
    options: { limit?: number; cursor?: string | null } = {},
    db: Db = this.prisma,
  ): Promise<Page<ApiKeyRow>> {
    const limit = pageSize(options.limit);
    const rows = await db.apiKey.findMany({
      where: {
        organizationId,
        ...createdAtAfter(options.cursor),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
      select: API_KEY_SELECT,
    });
    return toPage(rows, limit, (r) => r.createdAt.toISOString());
  }

  async revoke(organizationId: string, id: string, db: Db = this.prisma): Promise<ApiKeyRow> {
    if (!isUuid(id)) throw new NotFoundError('api key', id);
    const { count } = await db.apiKey.updateMany({
      where: { id, organizationId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    const row = await this.findById(organizationId, id, db);
    if (!row || (count === 0 && !row.revokedAt)) throw new NotFoundError('api key', id);
    return row;
  }

  /** Best effort, at most once a minute per key, so authentication does not write on every request. */
  async touchLastUsed(id: string, db: Db = this.prisma): Promise<void> {
    await db.apiKey.updateMany({
      where: { id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(Date.now() - 60_000) } }] },
      data: { lastUsedAt: new Date() },
    });
  }
}
