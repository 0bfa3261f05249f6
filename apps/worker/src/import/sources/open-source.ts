import type { ImportSourceKind } from '../import.types';
import { AdkSource } from './adk.source';
import { AgentosSqliteSource } from './agentos-sqlite.source';
import type { ImportSource } from './import-source';
import { MemoryDumpSource } from './memory-dump.source';

/**
 * Opens the legacy store at `location` (a file, or for ADK also a postgres:// URL). `embeddingDimensions`: what the
 * target database's vector columns hold (ImportService.embeddingDimensions); document embeddings of another length
 * are imported without the vector, with a warning; AgentOS memory traces (a memory needs its vector) are rejected.
 */
export function openSource(kind: ImportSourceKind, location: string, options: { embeddingDimensions?: number } = {}): Promise<ImportSource> {
  switch (kind) {
    case 'agentos-sqlite':
      return AgentosSqliteSource.open(location, options.embeddingDimensions);
    case 'adk':
      return AdkSource.open(location);
    case 'memory-dump':
      return MemoryDumpSource.open(location, options.embeddingDimensions);
  }
}
