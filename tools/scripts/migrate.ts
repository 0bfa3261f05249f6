// `nx run migrate`: applies Prisma migrations to DATABASE_URL, or to the embedded database when it is unset.
import { applyMigrations, describeDatabase, migrationState, PrismaService, resolveDatabase } from '@agenthub/db';

async function main(): Promise<void> {
  const target = await resolveDatabase();
  console.log(`agenthub migrate: ${describeDatabase(target)}`);
  const started = Date.now();
  try {
    await applyMigrations(target, { quiet: !process.argv.includes('--verbose') });
    const prisma = new PrismaService({ ...target, close: async () => undefined });
    try {
      const state = await migrationState(prisma);
      console.log(
        `agenthub migrate: ${state.applied.length} applied, ${state.pending.length} pending, ` +
          `${state.failed.length} failed — done in ${Date.now() - started} ms`,
      );
      if (state.pending.length || state.failed.length) process.exitCode = 1;
    } finally {
      await prisma.$disconnect();
    }
  } finally {
    await target.close();
  }
}

main().catch((e) => {
  console.error(`agenthub migrate failed: ${(e as Error).message}`);
  process.exit(1);
});
