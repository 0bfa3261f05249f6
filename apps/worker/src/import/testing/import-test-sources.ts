import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { PrismaService } from '@agenthub/db';
import type { ImportBatch } from '../import.types';
import type { ImportSource } from '../sources/import-source';

/** A source that dies after `n` batches, as a killed process would (the batches before it have committed). */
export function interruptedAfter(source: ImportSource, n: number): ImportSource {
  return {
    kind: source.kind,
    digest: source.digest,
    clientIdPrefix: source.clientIdPrefix,
    total: () => source.total(),
    refs: () => source.refs(),
    close: () => source.close(),
    async *batches(from, size): AsyncIterable<ImportBatch> {
      let i = 0;
      for await (const b of source.batches(from, size)) {
        if (i++ === n) throw new Error('simulated crash');
        yield b;
      }
    },
  };
}

export interface AgentosTodayFiles {
  conversationManager: string;
  storageAdapter: string;
  brain: string;
  /** ids AgentOS gave the brain's three traces, in the order they were remembered */
  traces: string[];
}

/** 2025-01-23T10:00:00Z, the fixture script's T0 */
export const AGENTOS_TODAY_T0 = 1_737_626_400_000;

/**
 * Files written by @framers/agentos's own ConversationManager, SqlStorageAdapter and Memory/archive code
 * (agentos-today.fixture.mjs, in a child process: jest cannot load the ESM-only package).
 */
export function makeAgentosTodayFiles(dir: string, embeddingDimensions: number): AgentosTodayFiles {
  const script = path.join(__dirname, '..', 'sources', 'agentos-today.fixture.mjs');
  const out = execFileSync(process.execPath, [script, dir, String(embeddingDimensions)], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as AgentosTodayFiles;
}

/** The tenant's memories and documents in a comparable form (ids differ per organization). */
export async function memorySnapshot(prisma: PrismaService, organizationId: string) {
  const memories = await prisma.$queryRaw<Array<Record<string, unknown>>>`
    SELECT m.content, m.embedding::text AS embedding, m.importance, m.kind, m.metadata, m.created_at, a.name AS agent, u.external_id AS "user"
      FROM memories m LEFT JOIN agents a ON a.id = m.agent_id LEFT JOIN users u ON u.id = m.user_id
     WHERE m.organization_id = ${organizationId}::uuid ORDER BY m.content`;
  const documents = await prisma.document.findMany({
    where: { organizationId },
    orderBy: { title: 'asc' },
    select: { title: true, content: true, metadata: true, createdAt: true, agent: { select: { name: true } } },
  });
  return { memories, documents };
}
