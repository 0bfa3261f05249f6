import { Module, type DynamicModule } from '@nestjs/common';
import { BACKUP_COMMANDS } from '../backup/backup.command';
import { BackupModule } from '../backup/backup.module';
import type { WorkerConfig } from '../config/worker.config';
import { CoreModule } from '../core.module';
import { ImportModule } from '../import/import.module';
import { RetentionCommand } from '../retention/retention.command';
import { RetentionModule } from '../retention/retention.module';
import { TenantTransferModule } from '../tenant-transfer/tenant-transfer.module';

/** The `agenthub` command line: the worker's services without its schedulers, plus the commands. */
@Module({})
export class CliModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [CoreModule.forRoot(config), BackupModule, RetentionModule, ImportModule, TenantTransferModule],
      providers: [...BACKUP_COMMANDS, RetentionCommand],
    };
  }
}
