// `nx run db:seed`: loads a demo organization (agent, end user, conversation with messages). Idempotent: a
// second run finds the organization by its seed marker and changes nothing.
import fs from 'node:fs';
import path from 'node:path';
import {
  AgentRepository,
  dataDirFrom,
  ApiKeyRepository,
  ConversationRepository,
  describeDatabase,
  MessageRepository,
  OrganizationRepository,
  PrismaService,
  resolveDatabase,
  UserRepository,
} from '@agenthub/db';

const SEED_MARKER = 'agenthub-demo';

async function main(): Promise<void> {
  const target = await resolveDatabase();
  const prisma = new PrismaService(target);
  console.log(`agenthub seed: ${describeDatabase(target)}`);
  try {
    const existing = await prisma.organization.findFirst({ where: { metadata: { path: ['seed'], equals: SEED_MARKER } } });
    if (existing) {
      console.log(`agenthub seed: demo organization ${existing.id} already present — nothing to do`);
      return;
    }
    const users = new UserRepository(prisma);
    const agents = new AgentRepository(prisma);
    const orgs = new OrganizationRepository(prisma, users, new ApiKeyRepository(prisma));
    const conversations = new ConversationRepository(prisma);
    const messages = new MessageRepository(prisma);
    const summary = await prisma.transaction(async (tx) => {
      const { organization, key } = await orgs.createWithOwner({ name: 'Demo Org', ownerEmail: 'owner@demo.agenthub.dev' }, tx);
      await tx.organization.update({ where: { id: organization.id }, data: { metadata: { seed: SEED_MARKER } } });
      const endUser = await users.create(organization.id, { externalId: 'demo-user-1', name: 'Dana Demo' }, tx);
      const agent = await agents.create(
        organization.id,
        {
          name: 'Support Bot',
          description: 'Answers order and refund questions',
          persona: { tone: 'friendly' },
          config: { model: 'gpt-4o', temperature: 0.2 },
          tools: ['lookup_order', 'issue_refund'],
        },
        tx,
      );
      const conversation = await conversations.create(
        organization.id,
        { agentId: agent.id, userId: endUser.id, title: 'Where is my refund?', sessionId: 'demo-session' },
        tx,
      );
      await messages.append(
        organization.id,
        conversation.id,
        [
          { role: 'user', content: 'Hi, I returned my order last week. Where is my refund?', clientId: 'demo-1' },
          { role: 'assistant', messageType: 'tool_call', toolName: 'lookup_order', toolArgs: { orderId: 'A-1001' }, toolCallId: 'call_1', clientId: 'demo-2' },
          { role: 'tool', messageType: 'tool_response', toolName: 'lookup_order', toolCallId: 'call_1', content: '{"status":"refund_issued"}', clientId: 'demo-3' },
          { role: 'assistant', content: 'Your refund was issued yesterday; it should arrive within 3 business days.', model: 'gpt-4o', tokensUsed: 42, clientId: 'demo-4' },
        ],
        tx,
      );
      return { organization, key, agent, conversation };
    });
    console.log(`agenthub seed: created demo organization ${summary.organization.id}`);
    console.log(`  agent ${summary.agent.id} (Support Bot), conversation ${summary.conversation.id} with 4 messages`);
    // Only the key's hash is in the database; the key itself goes to a file only its owner can read, not to
    // the terminal (terminal output ends up in CI logs).
    const keyFile = path.join(dataDirFrom(process.env), 'demo-owner-api-key');
    fs.mkdirSync(path.dirname(keyFile), { recursive: true });
    fs.writeFileSync(keyFile, `${summary.key}\n`, { mode: 0o600 });
    console.log(`  owner API key written to ${keyFile} (mode 600)`);
  } finally {
    await prisma.$disconnect();
    await target.close();
  }
}

main().catch((e) => {
  console.error(`agenthub seed failed: ${(e as Error).message}`);
  process.exit(1);
});
