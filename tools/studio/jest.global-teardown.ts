// A relative import: Jest does not apply moduleNameMapper to globalTeardown (see jest.global-setup.ts).
// eslint-disable-next-line @nx/enforce-module-boundaries
import type { TestDatabase } from '../../libs/db/src/testing';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __AGENTHUB_TEST_DB__?: TestDatabase }).__AGENTHUB_TEST_DB__?.teardown();
}
