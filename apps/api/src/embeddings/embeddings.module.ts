import { Module } from '@nestjs/common';
import { EmbeddingDimensions } from './embedding-dimensions.service';

/** What every feature that takes embeddings shares (memories, documents): EMBEDDING_DIMENSIONS and its checks. */
@Module({ providers: [EmbeddingDimensions], exports: [EmbeddingDimensions] })
export class EmbeddingsModule {}
