import { Module } from '@nestjs/common';
import { MemoryModule } from '../memories/memory.module';
import { DocumentController } from './document.controller';
import { DocumentService } from './document.service';

@Module({ imports: [MemoryModule], controllers: [DocumentController], providers: [DocumentService] })
export class DocumentModule {}
