import { Prisma, type PrismaService } from '@agenthub/db';
import { float4Vector, makeMemories, makePayment, makeTenant, makeUser, seededRandom } from '@agenthub/db/testing';
import { toSql } from 'pgvector/utils';

/**
 * Realistic data for backup round trips, built from the shared factories: several organizations, each with
 * users, an active and a soft-deleted agent, conversations (one soft-deleted) with messages in many scripts and
 * JSON tool calls, memories with 1536-d vectors (one expired), documents with embedded chunks, payments with
 * 4-decimal amounts, a refund, analytics events and audit entries.
 */
export async function seedRealisticData(prisma: PrismaService, organizations = 3, memoriesPerOrg = 40) {
  const orgs: Array<{ organizationId: string; memoryEmbeddings: number[][] }> = [];
  for (let o = 0; o < organizations; o++) {
    const { organization, user, agent, conversation } = await makeTenant(prisma);
    const organizationId = organization.id;
    await prisma.organization.update({ where: { id: organizationId }, data: { metadata: { plan: 'pro', tags: ['ä', '日本'], n: o } } });
    const second = await makeUser(prisma, organizationId, { email: null, name: 'Zoë «quoted» O\'Brien\ttab' });
    const deletedAgent = await prisma.agent.create({
      data: { organizationId, name: `retired-${o}`, isActive: false, deletedAt: new Date('2026-01-02T03:04:05.678Z'), subAgentIds: [agent.id] },
    });
    await prisma.conversation.create({
      data: { organizationId, agentId: deletedAgent.id, status: 'deleted', deletedAt: new Date('2026-02-03T00:00:00Z'), title: null },
    });
    const texts = ['Hello, world', 'Grüße aus Köln — “quotes”', '日本語のテキスト', 'emoji 🚀🔥 and \\ backslash', 'line one\nline two\r\n\ttabbed', 'NULL', '\\N'];
    await prisma.message.createMany({
      data: texts.map((content, i) => ({
        organizationId,
        conversationId: conversation.id,
        seq: i + 1,
        role: i % 2 ? ('assistant' as const) : ('user' as const),
        content,
        messageType: i === 3 ? ('tool_call' as const) : ('text' as const),
        toolName: i === 3 ? 'search' : null,
        toolArgs: i === 3 ? { query: 'ünïcode', limit: 5, nested: { a: [1, 2.5, null, true] } } : Prisma.DbNull,
        tokensUsed: i * 7,
        metadata: { i, s: 'x'.repeat(i) },
        createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i, 123)),
      })),
    });
    await prisma.conversation.update({ where: { id: conversation.id }, data: { messageCount: texts.length, lastSeq: texts.length } });
    const random = seededRandom(1000 + o);
    const memories = await makeMemories(
      prisma,
      organizationId,
      Array.from({ length: memoriesPerOrg }, (_, i) => ({
        content: `memory ${i} of org ${o}: ünïcödé ${'αβγ'.repeat(i % 3)}`,
        agentId: i % 2 ? agent.id : null,
        userId: i % 3 ? user.id : second.id,
        importance: (i % 10) / 10,
        metadata: { i, even: i % 2 === 0 },
        expiresAt: i === 0 ? new Date('2020-01-01T00:00:00Z') : null,
        embedding: float4Vector(random),
      })),
      7 + o,
    );
    const document = await prisma.document.create({ data: { organizationId, agentId: agent.id, title: `Doc ${o}`, content: 'Ünïcode body' } });
    for (let p = 0; p < 3; p++) {
      const embedding = p === 2 ? null : toSql(float4Vector(random));
      await prisma.$executeRaw`insert into document_chunks (id, organization_id, document_id, position, content, embedding)
        values (gen_random_uuid(), ${organizationId}::uuid, ${document.id}::uuid, ${p}, ${`chunk ${p} — ${o}`}, ${embedding}::vector)`;
    }
    const payment = await makePayment(prisma, organizationId, { amount: '1234.5678', currency: 'EUR', status: 'partially_refunded', refundedAmount: '0.0001', userId: user.id });
    await makePayment(prisma, organizationId, { amount: '0.001', currency: 'KWD', status: 'succeeded' });
    await prisma.refund.create({ data: { organizationId, paymentId: payment.id, amount: '0.0001', reason: 'rounding' } });
    await prisma.analyticsEvent.create({ data: { organizationId, type: 'message', agentId: agent.id, conversationId: conversation.id, userId: user.id, data: { tokens: 42, ratio: 0.125 } } });
    orgs.push({ organizationId, memoryEmbeddings: memories.map((m) => m.embedding) });
  }
  return orgs;
}
