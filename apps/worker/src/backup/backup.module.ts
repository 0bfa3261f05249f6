import { Module } from '@nestjs/common';
import { BackupJobsService } from './backup-jobs.service';
import { BackupRetentionService } from './backup-retention.service';
import { BackupVerifyService } from './backup-verify.service';
import { BackupService } from './backup.service';
import { RestoreService } from './restore.service';

/** Backup, verify, restore and backup retention (the services; the worker adds the scheduler, the CLI the commands). */
@Module({
  providers: [BackupService, BackupVerifyService, RestoreService, BackupRetentionService, BackupJobsService],
  exports: [BackupService, BackupVerifyService, RestoreService, BackupRetentionService, BackupJobsService],
})
export class BackupModule {}
