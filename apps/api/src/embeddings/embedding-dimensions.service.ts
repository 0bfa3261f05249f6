import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { embeddingLength, InvalidInputError, PrismaService, vectorColumnDimensions, type EmbeddingInput } from '@agenthub/db';
import { API_CONFIG, type ApiConfig } from '../config/api-config';

/**
 * EMBEDDING_DIMENSIONS against the database. At start-up it reads the declared dimension of every vector column
 * (pgvector keeps it in the column's typmod) and refuses to start when one differs: a mismatch would otherwise
 * turn every write into a confusing per-request failure. Per request it checks each embedding's length, so a
 * wrong-sized vector is a 400 naming the field instead of a database error.
 */
@Injectable()
export class EmbeddingDimensions implements OnApplicationBootstrap {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  get dimensions(): number {
    return this.config.EMBEDDING_DIMENSIONS;
  }

  async onApplicationBootstrap(): Promise<void> {
    // None: the migrations have not run yet (AGENTHUB_MIGRATE_ON_START=false); /health/ready reports that.
    for (const [column, dims] of await vectorColumnDimensions((sql) => this.prisma.queryRows(this.prisma, sql))) {
      if (dims !== this.dimensions) {
        throw new Error(
          `EMBEDDING_DIMENSIONS is ${this.dimensions} but ${column} is vector(${dims}): ` +
            `set EMBEDDING_DIMENSIONS=${dims}, or migrate the column to vector(${this.dimensions})`,
        );
      }
    }
  }

  /**
   * Each [path, embedding] must have exactly `dimensions` values (numbers, or float32 in base64); all offenders are
   * named in one 400. Malformed base64 is left to the data layer's check (toEmbedding), which names the problem.
   */
  assert(embeddings: Array<[path: string, embedding: EmbeddingInput | null | undefined]>): void {
    const problems: Array<{ path: string; message: string }> = [];
    for (const [path, embedding] of embeddings) {
      const length = embedding === undefined || embedding === null ? null : embeddingLength(embedding);
      if (length !== null && length !== this.dimensions) {
        const given = typeof embedding === 'string' ? ` (base64 of ${length * 4} bytes: ${length} float32 values)` : '';
        problems.push({ path, message: `must have ${this.dimensions} numbers (EMBEDDING_DIMENSIONS), got ${length}${given}` });
      }
    }
    if (problems.length > 0) throw new InvalidInputError(`embeddings must have ${this.dimensions} dimensions`, problems);
  }
}
