import { NestFactory } from '@nestjs/core';
import { makeTenant } from '../testing';
import { testDatabaseMode } from '../testing/test-database';
import { DbModule } from './db.module';
import { DATABASE_TARGET, PrismaService } from './prisma.service';
import { ConversationRepository, MessageRepository, REPOSITORIES } from './repositories';

describe(DbModule.name, () => {
  it('wires PrismaService and every repository from the resolved database, and closes cleanly', async () => {
    const target = { mode: testDatabaseMode(), url: process.env.TEST_DATABASE_URL!, close: jest.fn(async () => undefined) };
    const app = await NestFactory.createApplicationContext(DbModule.forRoot({ target }), { logger: false });
    try {
      for (const repository of REPOSITORIES) expect(app.get(repository)).toBeInstanceOf(repository);
      expect(app.get(DATABASE_TARGET)).toBe(target);
      const prisma = app.get(PrismaService);
      const { organization, conversation } = await makeTenant(prisma);
      await app.get(MessageRepository).append(organization.id, conversation.id, [{ role: 'user', content: 'hi' }]);
      expect((await app.get(ConversationRepository).findById(organization.id, conversation.id))?.messageCount).toBe(1);
    } finally {
      await app.close();
    }
    expect(target.close).toHaveBeenCalledTimes(1);
  });
});
