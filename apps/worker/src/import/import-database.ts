import { Inject, Injectable } from '@nestjs/common';
import { EMBEDDING_DIMENSIONS, PrismaService, vectorColumnDimensions } from '@agenthub/db';
import { ImportConnection, type SqlClient } from './sql-client';

/** One run's connection: batches in transactions of their own (or one rolled back for a dry run). */
export interface ImportSession {
  transaction<T>(fn: (c: SqlClient) => Promise<T>, options?: { rollback?: boolean }): Promise<T>;
  run<T>(fn: (c: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * ImportService's port to the target database, besides its repositories (ImportRunRepository,
 * ImportTargetRepository) and the job lock: the run's own connection, how many batches it may write at once,
 * and the vector dimension the importers write. A unit spec stubs this; the int-specs use the real one.
 */
@Injectable()
export class ImportDatabase {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /** A connection for one run (ImportConnection: plain pg, COPY where the server takes it). */
  open(): ImportSession {
    return new ImportConnection(this.prisma);
  }

  /** Batches written at once: two on PostgreSQL, one on the embedded database (a single backend). */
  get batchConcurrency(): number {
    return this.prisma.mode === 'postgres' ? 2 : 1;
  }

  /** The dimension of the target database's document_chunks.embedding (the migrations' 1536 until they ran). */
  async embeddingDimensions(): Promise<number> {
    const columns = await vectorColumnDimensions((sql) => this.prisma.queryRows(this.prisma, sql));
    return columns.get('document_chunks.embedding') ?? EMBEDDING_DIMENSIONS;
  }
}
