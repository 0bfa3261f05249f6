import { Module } from '@nestjs/common';
import { TenantTransferRepository } from './tenant-transfer.repository';
import { TenantTransferService } from './tenant-transfer.service';

/** One organization between databases (the services; CliModule adds `agenthub export` / `import-tenant`). DbModule comes from the root module. */
@Module({
  providers: [TenantTransferService, TenantTransferRepository],
  exports: [TenantTransferService],
})
export class TenantTransferModule {}
