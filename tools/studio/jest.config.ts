export default {
  displayName: 'studio',
  preset: '../../jest.preset.js',
  rootDir: '.',
  // unit specs beside the code, the browser test in test/
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  globalSetup: '<rootDir>/jest.global-setup.ts',
  globalTeardown: '<rootDir>/jest.global-teardown.ts',
  testTimeout: 120_000,
  coverageDirectory: '../../coverage/tools/studio',
};
