import { ConfigError, loadApiConfig } from './api-config';

describe('loadApiConfig', () => {
  it('gives every variable its documented default, and empty strings count as unset', () => {
    const config = loadApiConfig({ PORT: '', DATABASE_URL: '' });
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      production: false,
      PORT: 3000,
      HOST: '0.0.0.0',
      DATABASE_POOL_SIZE: 10,
      AGENTHUB_MIGRATE_ON_START: true,
      AGENTHUB_ROW_LEVEL_SECURITY: true,
      API_BODY_LIMIT_BYTES: 5 * 1024 * 1024,
      RATE_LIMIT_MAX: 6000,
      RATE_LIMIT_WINDOW_SECONDS: 60,
      REQUEST_TIMEOUT_MS: 30_000,
      SHUTDOWN_GRACE_MS: 10_000,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'auto',
      EMBEDDING_DIMENSIONS: 1536,
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.API_BULK_BODY_LIMIT_BYTES).toBeUndefined();
  });

  it('reads numbers and the usual spellings of booleans', () => {
    const config = loadApiConfig({ PORT: '8080', AGENTHUB_MIGRATE_ON_START: 'off', AGENTHUB_ROW_LEVEL_SECURITY: '0', DATABASE_POOL_SIZE: '25' });
    expect(config).toMatchObject({ PORT: 8080, AGENTHUB_MIGRATE_ON_START: false, AGENTHUB_ROW_LEVEL_SECURITY: false, DATABASE_POOL_SIZE: 25 });
    expect(loadApiConfig({ AGENTHUB_MIGRATE_ON_START: 'on' }).AGENTHUB_MIGRATE_ON_START).toBe(true);
  });

  it('names every bad variable in one error, and never echoes a secret', () => {
    let error: unknown;
    try {
      loadApiConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', AGENTHUB_ADMIN_TOKEN: 'short-secret', AUDIT_MAC_KEY: 'too-short-key', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'DATABASE_URL', 'AGENTHUB_ADMIN_TOKEN', 'AUDIT_MAC_KEY', 'LOG_LEVEL']) expect(message).toMatch(new RegExp(`^  ${name}: `, 'm'));
    expect(message).not.toContain('short-secret');
    expect(message).not.toContain('too-short-key');
  });

  it('refuses row-level security off in production, and allows it elsewhere (to measure its cost)', () => {
    expect(() => loadApiConfig({ NODE_ENV: 'production', AGENTHUB_ROW_LEVEL_SECURITY: 'false' })).toThrow(/AGENTHUB_ROW_LEVEL_SECURITY: must not be off in production/);
    expect(loadApiConfig({ NODE_ENV: 'production' })).toMatchObject({ production: true, AGENTHUB_ROW_LEVEL_SECURITY: true });
    expect(loadApiConfig({ NODE_ENV: 'test', AGENTHUB_ROW_LEVEL_SECURITY: 'false' }).AGENTHUB_ROW_LEVEL_SECURITY).toBe(false);
  });
});
