import { Inject, Injectable } from '@nestjs/common';
import { PrismaService, enterKeyLookup, enterTenant, type Db } from '@agenthub/db';
import { API_CONFIG, type ApiConfig } from '../../config/api-config';

/**
 * The API's transactions of one organization: under row-level security (tenancy.ts in libs/db) unless
 * AGENTHUB_ROW_LEVEL_SECURITY is off, which only the benchmark does to measure what the policies cost. The one
 * place that decides it: every tenant transaction of the API, the key lookup's included, starts here.
 */
@Injectable()
export class TenantTransactions {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  private get rowLevelSecurity(): boolean {
    return this.config.AGENTHUB_ROW_LEVEL_SECURITY;
  }

  /** A Prisma transaction (retried on serialization failures, see PrismaService.transaction). */
  run<T>(organizationId: string, fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.rowLevelSecurity ? this.prisma.tenantTransaction(organizationId, fn) : this.prisma.transaction(fn);
  }

  /**
   * A transaction on a plain pg connection, raw SQL only (PrismaService.rawTransaction). Read-only ones go to a
   * read replica when one can serve them (DATABASE_READ_URLS).
   */
  raw<T>(organizationId: string, fn: (tx: Db) => Promise<T>, readOnly = false): Promise<T> {
    return this.prisma.rawTransaction(this.rowLevelSecurity ? organizationId : null, fn, { readOnly, replica: readOnly });
  }

  /** A read-only Prisma transaction, on a read replica when one can serve it (PrismaService.readTransaction). */
  read<T>(organizationId: string, fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.prisma.readTransaction(this.rowLevelSecurity ? organizationId : null, fn);
  }

  /**
   * The transaction of an API key's lookup, before its organization is known: it sees only the key row with
   * `keyHash` until `enter` puts it under the key's organization (for what the lookup writes, e.g. last use).
   */
  keyLookup<T>(keyHash: string, fn: (tx: Db, enter: (organizationId: string) => Promise<void>) => Promise<T>): Promise<T> {
    return this.prisma.transaction(async (tx) => {
      if (this.rowLevelSecurity) await enterKeyLookup(tx, keyHash);
      return fn(tx, async (organizationId) => {
        if (this.rowLevelSecurity) await enterTenant(tx, organizationId);
      });
    });
  }
}
