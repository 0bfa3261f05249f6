import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// LangGraph's checkpointer validation suite is written for vitest with globals (describe/it/expect); so is the rest
// of this library's tests. One API process serves them all (test/global-setup.ts).
export default defineConfig({
  resolve: {
    alias: {
      '@agenthub/client/testing': path.join(root, 'libs/client/src/testing/index.ts'),
      '@agenthub/client': path.join(root, 'libs/client/src/index.ts'),
      '@agenthub/langgraph': path.join(root, 'libs/langgraph/src/index.ts'),
    },
  },
  test: {
    root,
    include: ['libs/langgraph/test/**/*.test.ts'],
    globals: true,
    environment: 'node',
    globalSetup: ['libs/langgraph/test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One file at a time: they share one API process and one 2-core machine.
    fileParallelism: false,
  },
});
