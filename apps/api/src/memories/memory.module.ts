import { Module } from '@nestjs/common';
import { EmbeddingDimensions } from './embedding-dimensions.service';
import { MemoryController } from './memory.controller';
import { MemoryService } from './memory.service';

@Module({ controllers: [MemoryController], providers: [MemoryService, EmbeddingDimensions], exports: [EmbeddingDimensions] })
export class MemoryModule {}
