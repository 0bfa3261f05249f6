import { Global, Module, type DynamicModule } from '@nestjs/common';
import { DbModule, JobLockService, WholeDatabase } from '@agenthub/db';
import { WORKER_CONFIG, type WorkerConfig } from './config/worker.config';
import { BACKUP_STORAGE } from './storage/backup-storage';
import { createBackupStorage } from './storage/storage.factory';

/** What the worker and the command line share: configuration, the data layer, backup storage, job locks, whole-database sessions. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: CoreModule,
      imports: [DbModule.forRoot({ env: config.database })],
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        { provide: BACKUP_STORAGE, useFactory: () => createBackupStorage(config) },
        JobLockService,
        WholeDatabase,
      ],
      exports: [WORKER_CONFIG, BACKUP_STORAGE, JobLockService, WholeDatabase],
    };
  }
}
