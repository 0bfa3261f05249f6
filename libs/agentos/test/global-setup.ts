import type { TestProject } from 'vitest/node';
import { startSuiteApi } from '@agenthub/client/testing';
// The test database (PostgreSQL at TEST_DATABASE_URL, else a fresh embedded one) as every project's suites get it.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { setupTestDatabase } from '../../db/src/testing/test-database';

declare module 'vitest' {
  export interface ProvidedContext {
    agenthub: { baseUrl: string; adminToken: string; databaseUrl: string | null };
  }
}

let api: Awaited<ReturnType<typeof startSuiteApi>> | undefined;

/** One real API process for the suites, on this project's own test database (`<TEST_DATABASE_URL>_agentos`) or an embedded one. */
export async function setup(project: TestProject): Promise<void> {
  api = await startSuiteApi({ suffix: 'agentos', setupTestDatabase });
  project.provide('agenthub', { baseUrl: api.baseUrl, adminToken: api.adminToken, databaseUrl: api.databaseUrl ?? null });
}

export async function teardown(): Promise<void> {
  await api?.stop();
}
