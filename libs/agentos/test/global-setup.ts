import type { TestProject } from 'vitest/node';
import { startApiProcess, type ApiProcess } from '@agenthub/client/testing';
// The test database (PostgreSQL at TEST_DATABASE_URL, else a fresh embedded one) as every project's suites get it.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { setupTestDatabase, type TestDatabase } from '../../db/src/testing/test-database';

declare module 'vitest' {
  export interface ProvidedContext {
    agenthub: { baseUrl: string; adminToken: string };
  }
}

let api: ApiProcess | undefined;
let db: TestDatabase | undefined;

/**
 * A real API process for the suites: on PostgreSQL, this project's own test database (`<TEST_DATABASE_URL>_agentos`);
 * otherwise its own embedded database, as `npm start` makes one (an API pointed at another process's embedded
 * database by URL would take it for PostgreSQL and name prepared statements, which that shared backend cannot keep apart).
 */
export async function setup(project: TestProject): Promise<void> {
  const env = { RATE_LIMIT_MAX: '1000000' };
  if (process.env.TEST_DATABASE_URL?.trim() && process.env.AGENTHUB_TEST_DB_MODE !== 'embedded') {
    db = await setupTestDatabase({ suffix: 'agentos' });
    api = await startApiProcess({ databaseUrl: db.url, env: { ...env, AGENTHUB_MIGRATE_ON_START: 'false' } });
  } else {
    api = await startApiProcess({ env });
  }
  project.provide('agenthub', { baseUrl: api.baseUrl, adminToken: api.adminToken });
}

export async function teardown(): Promise<void> {
  // The API's own errors (a 500's cause is only in its log), for whoever reads a failed run.
  const errors = (api?.output() ?? '').split('\n').filter((line) => line.includes('"level":50'));
  if (errors.length) process.stderr.write(`\n[agenthub api] ${errors.length} error lines; the last ones:\n${errors.slice(-10).join('\n')}\n`);
  await api?.stop();
  await db?.teardown();
}
