export * from './test-database';
export * from './factories/entities';
export * from './factories/vectors';
