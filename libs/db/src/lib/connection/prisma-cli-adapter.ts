import { createPgAdapter } from './pg-adapter';
import { describeDatabase, resolveDatabase, sessionUrl } from './database-config';

/**
 * The driver adapter the Prisma CLI (migrate, studio, db execute) runs on: DATABASE_URL (DATABASE_DIRECT_URL when
 * that is a transaction pooler: migrate takes a session-level advisory lock), or the embedded database when it is unset, through the same adapter and catalog-type shim as the application.
 */
export async function prismaCliAdapter() {
  // The CLI exits when its command is done; an embedded server it started must not hold the process open.
  const target = await resolveDatabase(process.env, { keepProcessAlive: false });
  process.stderr.write(`agenthub: ${describeDatabase(target)}\n`);
  return createPgAdapter(sessionUrl(target), { max: 2, applicationName: 'agenthub-prisma-cli', allowExitOnIdle: true });
}
