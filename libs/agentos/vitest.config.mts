import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// vitest, not jest: @framers/agentos ships ES modules only. The paired cases run AgentOS's own SQLite implementations
// (sql.js, no native binary) side by side with AgentHub's; one API process serves them all (test/global-setup.ts).
export default defineConfig({
  resolve: {
    alias: {
      '@agenthub/client/testing': path.join(root, 'libs/client/src/testing/index.ts'),
      '@agenthub/client': path.join(root, 'libs/client/src/index.ts'),
      '@agenthub/agentos': path.join(root, 'libs/agentos/src/index.ts'),
    },
  },
  test: {
    root,
    include: ['libs/agentos/test/**/*.test.ts'],
    globals: true,
    environment: 'node',
    globalSetup: ['libs/agentos/test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One file at a time: they share one API process and one 2-core machine.
    fileParallelism: false,
  },
});
