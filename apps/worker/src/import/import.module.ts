import { Module } from '@nestjs/common';
import { ImportDatabase } from './import-database';
import { ImportTargetRepository } from './import-target.repository';
import { ImportService } from './import.service';

/** Importers from legacy stores (the services; CliModule adds `agenthub import …`). DbModule comes from the root module. */
@Module({
  providers: [ImportService, ImportDatabase, ImportTargetRepository],
  exports: [ImportService],
})
export class ImportModule {}
