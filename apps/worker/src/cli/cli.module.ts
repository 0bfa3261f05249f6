import { Module, type DynamicModule } from '@nestjs/common';
import { BACKUP_COMMANDS } from '../backup/backup.command';
import { BackupModule } from '../backup/backup.module';
import type { WorkerConfig } from '../config/worker.config';
import { CoreModule } from '../core.module';
import { IMPORT_COMMANDS } from '../import/import.command';
import { ImportModule } from '../import/import.module';
import { RETENTION_COMMANDS } from '../retention/retention.command';
import { RetentionModule } from '../retention/retention.module';
import { TENANT_TRANSFER_COMMANDS } from '../tenant-transfer/tenant-transfer.command';
import { TenantTransferModule } from '../tenant-transfer/tenant-transfer.module';

/**
 * The `agenthub` command line: the worker's services without its schedulers, plus the commands — registered
 * here and only here, each feature's list beside its commands (feature modules provide services).
 */
@Module({})
export class CliModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [CoreModule.forRoot(config), BackupModule, RetentionModule, ImportModule, TenantTransferModule],
      providers: [...BACKUP_COMMANDS, ...RETENTION_COMMANDS, ...IMPORT_COMMANDS, ...TENANT_TRANSFER_COMMANDS],
    };
  }
}
