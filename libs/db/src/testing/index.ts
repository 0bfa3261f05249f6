export * from './test-database';
export * from './factories/entities';
export * from './factories/vectors';
export * from './factories/memories';
export * from './factories/payments';
export * from './factories/api-bodies';
export * from './audit';
