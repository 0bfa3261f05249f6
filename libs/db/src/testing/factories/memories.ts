import { randomUUID } from 'node:crypto';
import { toSql } from 'pgvector/utils';
import type { Db } from '../../lib/prisma.service';
import { EMBEDDING_DIMENSIONS } from '../../lib/vector';
import { randomVector, seededRandom } from './vectors';

/**
 * Memories written straight through the Prisma client (raw SQL: the embedding column is Unsupported in
 * Prisma), not through MemoryRepository. Embeddings are rounded to float4 first, so what the test holds
 * equals what the database stores and brute-force similarities match the database's to ~1e-6.
 */
export interface MemorySeed {
  embedding?: number[];
  content?: string;
  agentId?: string | null;
  userId?: string | null;
  conversationId?: string | null;
  kind?: string;
  importance?: number;
  metadata?: Record<string, unknown>;
  expiresAt?: Date | null;
}

export type SeededMemory = Required<Omit<MemorySeed, 'metadata'>> & { id: string; organizationId: string; metadata: Record<string, unknown> };

/** A float4-exact random unit-free vector of the column's dimension. */
export function float4Vector(random: () => number, dimensions = EMBEDDING_DIMENSIONS): number[] {
  return randomVector(dimensions, random).map(Math.fround);
}

export async function makeMemories(db: Db, organizationId: string, seeds: MemorySeed[], seed = 1): Promise<SeededMemory[]> {
  const random = seededRandom(seed);
  const rows: SeededMemory[] = seeds.map((s, i) => ({
    id: randomUUID(),
    organizationId,
    embedding: (s.embedding ?? float4Vector(random)).map(Math.fround),
    content: s.content ?? `memory ${i} ${randomUUID().slice(0, 8)}`,
    agentId: s.agentId ?? null,
    userId: s.userId ?? null,
    conversationId: s.conversationId ?? null,
    kind: s.kind ?? 'fact',
    importance: s.importance ?? 0.5,
    metadata: s.metadata ?? {},
    expiresAt: s.expiresAt ?? null,
  }));
  for (let start = 0; start < rows.length; start += 250) {
    const batch = rows.slice(start, start + 250);
    const col = <T>(f: (r: SeededMemory) => T) => batch.map(f);
    await db.$executeRaw`
      insert into memories (id, organization_id, agent_id, user_id, conversation_id, content, embedding, importance, kind,
        metadata, expires_at, created_at, updated_at)
      select r.id, ${organizationId}::uuid, r.agent_id, r.user_id, r.conversation_id, r.content, r.embedding::vector,
        r.importance, r.kind, r.metadata::jsonb, r.expires_at, now(), now()
      from unnest(${col((r) => r.id)}::uuid[], ${col((r) => r.agentId)}::uuid[], ${col((r) => r.userId)}::uuid[],
        ${col((r) => r.conversationId)}::uuid[], ${col((r) => r.content)}::text[], ${col((r) => toSql(r.embedding) as string)}::text[],
        ${col((r) => r.importance)}::float8[], ${col((r) => r.kind)}::text[], ${col((r) => JSON.stringify(r.metadata))}::text[],
        ${col((r) => r.expiresAt?.toISOString() ?? null)}::timestamptz[])
        as r(id, agent_id, user_id, conversation_id, content, embedding, importance, kind, metadata, expires_at)`;
  }
  return rows;
}

export async function makeMemory(db: Db, organizationId: string, seed: MemorySeed = {}): Promise<SeededMemory> {
  const [row] = await makeMemories(db, organizationId, [seed], Math.floor(Math.random() * 2 ** 31));
  return row;
}
