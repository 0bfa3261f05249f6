import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { BackupModule } from './backup/backup.module';
import { BackupScheduler } from './backup/backup.scheduler';
import type { WorkerConfig } from './config/worker.config';
import { CoreModule } from './core.module';
import { MigrationCheckService } from './migrations/migration-check.service';
import { RetentionModule } from './retention/retention.module';
import { RetentionScheduler } from './retention/retention.scheduler';

/** The worker process: the migration check first (onModuleInit), then the schedulers (onApplicationBootstrap). */
@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CoreModule.forRoot(config), ScheduleModule.forRoot(), BackupModule, RetentionModule],
      providers: [MigrationCheckService, BackupScheduler, RetentionScheduler],
    };
  }
}
