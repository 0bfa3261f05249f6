import { Module } from '@nestjs/common';
import { EmbeddingsModule } from '../embeddings/embeddings.module';
import { DocumentController } from './document.controller';
import { DocumentService } from './document.service';

@Module({ imports: [EmbeddingsModule], controllers: [DocumentController], providers: [DocumentService] })
export class DocumentModule {}
