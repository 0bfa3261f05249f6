// Jest loads global setup outside its module mapper (through ts-node), so the path alias cannot be used here.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { setupTestDatabase } from '../../libs/db/src/testing/test-database';

// Own database on the test server (`<TEST_DATABASE_URL>_api`): Nx runs the projects' tests in parallel.
export default async function globalSetup(): Promise<void> {
  (globalThis as { __AGENTHUB_TEST_DB__?: unknown }).__AGENTHUB_TEST_DB__ = await setupTestDatabase({ suffix: 'api' });
}
