import { InvalidInputError, type PrismaService } from '@agenthub/db';
import type { ApiConfig } from '../config/api-config';
import { EmbeddingDimensions } from './embedding-dimensions.service';

/** The database stubbed: `queryRows` answers the vector columns' query with these rows. */
function withColumns(rows: Array<{ column: string; dims: number }>, dimensions = 4): EmbeddingDimensions {
  const prisma = { queryRows: async () => rows } as unknown as PrismaService;
  return new EmbeddingDimensions(prisma, { EMBEDDING_DIMENSIONS: dimensions } as ApiConfig);
}

describe('EmbeddingDimensions', () => {
  describe('at start-up', () => {
    it('starts when every vector column has EMBEDDING_DIMENSIONS, or before the migrations made any', async () => {
      await expect(withColumns([{ column: 'memories.embedding', dims: 4 }, { column: 'document_chunks.embedding', dims: 4 }]).onApplicationBootstrap()).resolves.toBeUndefined();
      await expect(withColumns([]).onApplicationBootstrap()).resolves.toBeUndefined();
    });

    it('refuses to start when a column differs, saying both ways out', async () => {
      const start = withColumns([{ column: 'memories.embedding', dims: 4 }, { column: 'document_chunks.embedding', dims: 768 }]).onApplicationBootstrap();
      await expect(start).rejects.toThrow(
        'EMBEDDING_DIMENSIONS is 4 but document_chunks.embedding is vector(768): set EMBEDDING_DIMENSIONS=768, or migrate the column to vector(4)',
      );
    });
  });

  describe('per request', () => {
    const sut = withColumns([]);

    it('names every embedding of the wrong length in one 400, numbers and base64 alike', () => {
      const base64Of3 = Buffer.from(new Float32Array([1, 2, 3]).buffer).toString('base64');
      let error: unknown;
      try {
        sut.assert([
          ['memories.0.embedding', [1, 2, 3, 4]],
          ['memories.1.embedding', [1, 2]],
          ['memories.2.embedding', base64Of3],
          ['memories.3.embedding', undefined],
        ]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).details).toEqual([
        { path: 'memories.1.embedding', message: 'must have 4 numbers (EMBEDDING_DIMENSIONS), got 2' },
        { path: 'memories.2.embedding', message: 'must have 4 numbers (EMBEDDING_DIMENSIONS), got 3 (base64 of 12 bytes: 3 float32 values)' },
      ]);
    });

    it('leaves well-sized, absent and undecodable embeddings alone (the data layer names what is wrong with bad base64)', () => {
      expect(() => sut.assert([['embedding', [0.1, 0.2, 0.3, 0.4]], ['other', null], ['odd', 'not base64!']])).not.toThrow();
    });
  });
});
