// A relative import: Jest does not apply moduleNameMapper to globalSetup (jestjs/jest#11644).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { setupTestDatabase } from '../../libs/db/src/testing';

// Own database on the test server (`<TEST_DATABASE_URL>_studio`): Nx runs the projects' tests in parallel.
export default async function globalSetup(): Promise<void> {
  (globalThis as { __AGENTHUB_TEST_DB__?: unknown }).__AGENTHUB_TEST_DB__ = await setupTestDatabase({ suffix: 'studio' });
}
