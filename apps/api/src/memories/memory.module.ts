import { Module } from '@nestjs/common';
import { EmbeddingsModule } from '../embeddings/embeddings.module';
import { MemoryController } from './memory.controller';
import { MemoryService } from './memory.service';

@Module({ imports: [EmbeddingsModule], controllers: [MemoryController], providers: [MemoryService] })
export class MemoryModule {}
