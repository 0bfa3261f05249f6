export default {
  displayName: 'db',
  preset: '../../jest.preset.js',
  rootDir: '.',
  // One database for the run: PostgreSQL at TEST_DATABASE_URL, else a fresh embedded one (see src/testing).
  globalSetup: '<rootDir>/jest.global-setup.ts',
  globalTeardown: '<rootDir>/jest.global-teardown.ts',
  testTimeout: 60_000,
  coverageDirectory: '../../coverage/libs/db',
};
