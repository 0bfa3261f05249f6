import { Module } from '@nestjs/common';
import { BackupController } from './backup.controller';
import { BackupCatalogService } from './backup.service';

@Module({ controllers: [BackupController], providers: [BackupCatalogService] })
export class BackupModule {}
