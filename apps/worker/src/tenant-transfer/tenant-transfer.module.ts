import { Module } from '@nestjs/common';
import { TenantExportCommand, TenantImportCommand } from './tenant-transfer.command';
import { TenantTransferRepository } from './tenant-transfer.repository';
import { TenantTransferService } from './tenant-transfer.service';

/** `agenthub export` / `agenthub import-tenant`: one organization between databases. DbModule comes from the root module. */
@Module({
  providers: [TenantTransferService, TenantTransferRepository, TenantExportCommand, TenantImportCommand],
  exports: [TenantTransferService],
})
export class TenantTransferModule {}
