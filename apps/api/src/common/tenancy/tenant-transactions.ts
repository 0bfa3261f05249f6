import { Inject, Injectable } from '@nestjs/common';
import { PrismaService, type Db } from '@agenthub/db';
import { API_CONFIG, type ApiConfig } from '../../config/api-config';

/**
 * The API's transactions of one organization: under row-level security (tenancy.ts in libs/db) unless
 * AGENTHUB_ROW_LEVEL_SECURITY is off, which only the benchmark does to measure what the policies cost.
 */
@Injectable()
export class TenantTransactions {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  /** A Prisma transaction (retried on serialization failures, see PrismaService.transaction). */
  run<T>(organizationId: string, fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.config.AGENTHUB_ROW_LEVEL_SECURITY ? this.prisma.tenantTransaction(organizationId, fn) : this.prisma.transaction(fn);
  }

  /** A transaction on a plain pg connection, raw SQL only (PrismaService.rawTransaction). */
  raw<T>(organizationId: string, fn: (tx: Db) => Promise<T>, readOnly = false): Promise<T> {
    return this.prisma.rawTransaction(this.config.AGENTHUB_ROW_LEVEL_SECURITY ? organizationId : null, fn, { readOnly });
  }
}
