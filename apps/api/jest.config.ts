export default {
  displayName: 'api',
  preset: '../../jest.preset.js',
  rootDir: '.',
  // unit specs beside the code (src/**/*.spec.ts), end-to-end specs over real HTTP in test/ (*.e2e-spec.ts)
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  globalSetup: '<rootDir>/jest.global-setup.ts',
  globalTeardown: '<rootDir>/jest.global-teardown.ts',
  testTimeout: 120_000,
  coverageDirectory: '../../coverage/apps/api',
};
