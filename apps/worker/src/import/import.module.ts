import { Module } from '@nestjs/common';
import { ImportAdkCommand, ImportAgentosCommand, ImportCommand, ImportMemoryDumpCommand } from './import.command';
import { ImportTargetRepository } from './import-target.repository';
import { ImportService } from './import.service';

/** Importers from legacy stores (`agenthub import …`). DbModule comes from the root module. */
@Module({
  providers: [ImportService, ImportTargetRepository, ImportCommand, ImportAgentosCommand, ImportAdkCommand, ImportMemoryDumpCommand],
  exports: [ImportService],
})
export class ImportModule {}
