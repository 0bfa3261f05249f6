export default {
  displayName: 'worker',
  preset: '../../jest.preset.js',
  rootDir: '.',
  globalSetup: '<rootDir>/jest.global-setup.ts',
  globalTeardown: '<rootDir>/jest.global-teardown.ts',
  testTimeout: 120_000,
  coverageDirectory: '../../coverage/apps/worker',
};
