import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { PrismaService, type Db } from '../prisma.service';
import { PaymentRepository } from './payment.repository';

export interface OrganizationStats {
  agents: number;
  activeAgents: number;
  conversations: number;
  messages: number;
  memories: number;
  documents: number;
  payments: { count: number; volume: Record<string, string> };
}

/**
 * The counts of `GET /api/v1/stats`, read in one statement (one snapshot, one round trip). Deleted conversations
 * and their messages and expired memories are not counted: they are invisible everywhere else too. Payment volume
 * is what was captured and not refunded, per currency.
 */
@Injectable()
export class StatsRepository {
  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Inject(PaymentRepository) private readonly payments: PaymentRepository,
  ) {}

  async forOrganization(organizationId: string, db: Db = this.prisma): Promise<OrganizationStats> {
    const [row] = await db.$queryRaw<Array<Record<string, number>>>(Prisma.sql`
      select
        (select count(*)::int from agents where organization_id = ${organizationId}::uuid) as agents,
        (select count(*)::int from agents where organization_id = ${organizationId}::uuid and is_active) as "activeAgents",
        (select count(*)::int from conversations
          where organization_id = ${organizationId}::uuid and status <> 'deleted') as conversations,
        (select coalesce(sum(message_count), 0)::int from conversations
          where organization_id = ${organizationId}::uuid and status <> 'deleted') as messages,
        (select count(*)::int from memories
          where organization_id = ${organizationId}::uuid and (expires_at is null or expires_at > now())) as memories,
        (select count(*)::int from documents where organization_id = ${organizationId}::uuid) as documents,
        (select count(*)::int from payments where organization_id = ${organizationId}::uuid) as payments`);
    const volume = await this.payments.volumeByCurrency(organizationId, db);
    return {
      agents: row.agents,
      activeAgents: row.activeAgents,
      conversations: row.conversations,
      messages: row.messages,
      memories: row.memories,
      documents: row.documents,
      payments: { count: row.payments, volume },
    };
  }
}
