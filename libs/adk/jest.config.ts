export default {
  displayName: 'adk',
  preset: '../../jest.preset.js',
  rootDir: '.',
  testTimeout: 30_000,
  coverageDirectory: '../../coverage/libs/adk',
};
