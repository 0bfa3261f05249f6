// @agenthub/client/testing — the API as a process of its own, for suites and tools that need it from outside.
export { REPO_ROOT, startApiProcess, type ApiProcess, type ApiProcessOptions } from './api-process';
export { startSuiteApi, type SetupTestDatabase } from './suite-api';
