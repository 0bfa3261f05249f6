import type pg from 'pg';
import { toSql } from 'pgvector/utils';
import { compare, type Side } from './harness';
import { log, type Comparison } from './report';
import { type PrismaService, EMBEDDING_DIMENSIONS } from '@agenthub/db';
import { randomVector, seededRandom } from '@agenthub/db/testing';

/**
 * Where the repository's cost goes: the fixed price of one `$queryRaw` round trip through Prisma (client engine
 * + pg adapter) against `pg` directly, with no parameter and with a 1536-d vector parameter. No goal: context
 * for the rows above.
 */
export async function runDiagnostics(
  prisma: PrismaService,
  pool: pg.Pool,
  o: { rounds: number; sliceMs: number; warmupMs: number },
): Promise<Comparison[]> {
  const literal = toSql(randomVector(EMBEDDING_DIMENSIONS, seededRandom(3))) as string;
  const cases: Array<{ label: string; prisma: () => Promise<unknown>; raw: () => Promise<unknown> }> = [
    {
      label: 'diagnostic: round trip `select 1`',
      prisma: () => prisma.$queryRaw`select 1 as one`,
      raw: () => pool.query('select 1 as one'),
    },
    {
      label: 'diagnostic: round trip with a 1536-d vector parameter',
      prisma: () => prisma.$queryRaw`select vector_dims(${literal}::vector) as n`,
      raw: () => pool.query('select vector_dims($1::vector) as n', [literal]),
    },
    {
      label: 'diagnostic: 10 rows × 13 columns back (memories projection, no vector)',
      prisma: () => prisma.$queryRaw`select id, organization_id as "organizationId", agent_id as "agentId", user_id as "userId",
        conversation_id as "conversationId", content, embedding_model as "embeddingModel", importance, kind, metadata,
        expires_at as "expiresAt", created_at as "createdAt", updated_at as "updatedAt" from memories order by id limit 10`,
      raw: () => pool.query(`select id, organization_id as "organizationId", agent_id as "agentId", user_id as "userId",
        conversation_id as "conversationId", content, embedding_model as "embeddingModel", importance, kind, metadata,
        expires_at as "expiresAt", created_at as "createdAt", updated_at as "updatedAt" from memories order by id limit 10`),
    },
  ];
  const out: Comparison[] = [];
  for (const c of cases) {
    log(c.label);
    const subject: Side = { name: 'prisma $queryRaw', op: async () => (await c.prisma(), 1) };
    const baseline: Side = { name: 'pg', op: async () => (await c.raw(), 1) };
    const r = await compare(baseline, subject, { ...o, concurrency: 1 });
    out.push({
      section: 'diagnostics',
      case: `${c.label} (${(1000 / r.subject.rate - 1000 / r.baseline.rate).toFixed(2)} ms/call extra)`,
      unit: 'calls/s',
      baseline: r.baseline.rate,
      subject: r.subject.rate,
      ratio: r.ratio,
      goal: NaN,
      met: true,
      roundRatios: r.roundRatios,
      details: { baseline: r.baseline, subject: r.subject },
    });
  }
  return out;
}
