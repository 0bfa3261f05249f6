import { createPgAdapter } from './pg-adapter';
import { describeDatabase, resolveDatabase } from './database-config';

/**
 * The driver adapter the Prisma CLI (migrate, studio, db execute) runs on: DATABASE_URL, or the embedded
 * database when it is unset, through the same adapter and catalog-type shim as the application.
 */
export async function prismaCliAdapter() {
  // The CLI exits when its command is done; an embedded server it started must not hold the process open.
  const target = await resolveDatabase(process.env, { keepProcessAlive: false });
  process.stderr.write(`agenthub: ${describeDatabase(target)}\n`);
  return createPgAdapter(target.url, { max: 2, applicationName: 'agenthub-prisma-cli', allowExitOnIdle: true });
}
