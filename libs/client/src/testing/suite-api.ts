import { startApiProcess, type ApiProcess } from './api-process';

/** The test database helper of @agenthub/db/testing, passed in (this library does not depend on the data layer). */
export type SetupTestDatabase = (options: { suffix: string }) => Promise<{ url: string; teardown(): Promise<void> }>;

/**
 * The real API process a framework integration's test suites share (their vitest global setup): on PostgreSQL
 * (`TEST_DATABASE_URL`), the suites' own test database `<TEST_DATABASE_URL>_<suffix>`; otherwise its own embedded
 * database, as `npm start` makes one (an API pointed at another process's embedded database by URL would take it
 * for PostgreSQL and name prepared statements, which that shared backend cannot keep apart). `stop` prints the API's
 * error lines first (a 500's cause is only in its log), for whoever reads a failed run.
 */
export async function startSuiteApi(options: { suffix: string; setupTestDatabase: SetupTestDatabase }): Promise<{ baseUrl: string; adminToken: string; databaseUrl?: string; stop(): Promise<void> }> {
  const env = { RATE_LIMIT_MAX: '1000000' };
  let db: Awaited<ReturnType<SetupTestDatabase>> | undefined;
  let api: ApiProcess;
  if (process.env.TEST_DATABASE_URL?.trim() && process.env.AGENTHUB_TEST_DB_MODE !== 'embedded') {
    db = await options.setupTestDatabase({ suffix: options.suffix });
    api = await startApiProcess({ databaseUrl: db.url, env: { ...env, AGENTHUB_MIGRATE_ON_START: 'false' } });
  } else {
    api = await startApiProcess({ env });
  }
  return {
    baseUrl: api.baseUrl,
    adminToken: api.adminToken,
    /** on PostgreSQL, the database the API serves (for a tool run beside it, e.g. the importer); embedded: undefined */
    databaseUrl: db?.url,
    async stop() {
      const errors = api.output().split('\n').filter((line) => line.includes('"level":50'));
      if (errors.length) process.stderr.write(`\n[agenthub api] ${errors.length} error lines; the last ones:\n${errors.slice(-10).join('\n')}\n`);
      await api.stop();
      await db?.teardown();
    },
  };
}
