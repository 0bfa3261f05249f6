import { Module } from '@nestjs/common';
import { ImportTargetRepository } from './import-target.repository';
import { ImportService } from './import.service';

/** Importers from legacy stores (the services; CliModule adds `agenthub import …`). DbModule comes from the root module. */
@Module({
  providers: [ImportService, ImportTargetRepository],
  exports: [ImportService],
})
export class ImportModule {}
