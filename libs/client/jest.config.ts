export default {
  displayName: 'client',
  preset: '../../jest.preset.js',
  rootDir: '.',
  testTimeout: 30_000,
  coverageDirectory: '../../coverage/libs/client',
};
