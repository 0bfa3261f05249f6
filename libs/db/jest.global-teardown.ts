import type { TestDatabase } from './src/testing/test-database';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __AGENTHUB_TEST_DB__?: TestDatabase }).__AGENTHUB_TEST_DB__?.teardown();
}
