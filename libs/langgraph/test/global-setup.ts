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

/** A real API process for the suites, on this project's own test database (`<TEST_DATABASE_URL>_langgraph`). */
export async function setup(project: TestProject): Promise<void> {
  db = await setupTestDatabase({ suffix: 'langgraph' });
  api = await startApiProcess({ databaseUrl: db.url, env: { RATE_LIMIT_MAX: '1000000', AGENTHUB_MIGRATE_ON_START: 'false' } });
  project.provide('agenthub', { baseUrl: api.baseUrl, adminToken: api.adminToken });
}

export async function teardown(): Promise<void> {
  await api?.stop();
  await db?.teardown();
}
