import { setupTestDatabase } from './src/testing/test-database';

export default async function globalSetup(): Promise<void> {
  (globalThis as { __AGENTHUB_TEST_DB__?: unknown }).__AGENTHUB_TEST_DB__ = await setupTestDatabase();
}
