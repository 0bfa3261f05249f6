import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { describeDatabase, migrationState, PrismaService } from '@agenthub/db';

export class MigrationsBehindError extends Error {}

/**
 * The worker refuses to start against a database whose migrations are behind this build (or failed half-way):
 * its jobs would read and write a schema they were not written for. Runs before any scheduler starts.
 */
@Injectable()
export class MigrationCheckService implements OnModuleInit {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  async onModuleInit(): Promise<void> {
    await this.assertCurrent();
  }

  async assertCurrent(): Promise<void> {
    const state = await migrationState(this.prisma);
    const where = describeDatabase(this.prisma.target).split(' — ')[0];
    if (state.failed.length) {
      throw new MigrationsBehindError(
        `${where}: migration(s) ${state.failed.join(', ')} failed part-way; resolve them ` +
          `(npx prisma migrate resolve --rolled-back <name>, then npx nx run migrate) before starting the worker`,
      );
    }
    if (state.pending.length) {
      throw new MigrationsBehindError(
        `${where} is behind this build: ${state.pending.length} pending migration(s) (${state.pending.join(', ')}). ` +
          `Apply them with \`npx nx run migrate\` (same DATABASE_URL / AGENTHUB_DATA_DIR), then start the worker again.`,
      );
    }
  }
}
