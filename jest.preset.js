// Shared Jest settings for every project: TypeScript through SWC (decorator metadata on, for NestJS),
// path aliases from tsconfig.base.json, Node environment.
const path = require('node:path');

module.exports = {
  testEnvironment: 'node',
  transform: {
    '/node_modules/(content-disposition|lodash-es)/.+\\.js$': ['@swc/jest', { module: { type: 'commonjs' } }],
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  // ESM-only packages some dependencies require() (Node 20.19 loads them natively, Jest does not): compiled to CJS.
  transformIgnorePatterns: ['^(?!.*/node_modules/(content-disposition|lodash-es)/).*/node_modules/'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@agenthub/db$': path.join(__dirname, 'libs/db/src/index.ts'),
    '^@agenthub/db/testing$': path.join(__dirname, 'libs/db/src/testing/index.ts'),
    '^@agenthub/client$': path.join(__dirname, 'libs/client/src/index.ts'),
    '^@agenthub/client/testing$': path.join(__dirname, 'libs/client/src/testing/index.ts'),
    '^@agenthub/langgraph$': path.join(__dirname, 'libs/langgraph/src/index.ts'),
    '^@agenthub/adk$': path.join(__dirname, 'libs/adk/src/index.ts'),
    '^@agenthub/adk/mapping$': path.join(__dirname, 'libs/adk/src/mapping.ts'),
  },
  testMatch: ['**/?(*.)+(spec|int-spec).ts'],
  coverageReporters: ['text-summary', 'lcov'],
};
