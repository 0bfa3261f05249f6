import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DatabaseTarget } from '@agenthub/db';
import { ConfigError, type ApiConfig } from './api-config';

export interface AdminToken {
  token: string;
  /** where it came from, for the start-up banner */
  source: 'environment' | 'generated' | 'data-dir';
  file?: string;
}

/**
 * AGENTHUB_ADMIN_TOKEN, or on the embedded database (a developer's machine) one generated once and kept in the
 * data directory (mode 600) so it survives restarts. On PostgreSQL a missing token is a start-up error: a
 * production operator sets it.
 */
export function resolveAdminToken(config: ApiConfig, target: DatabaseTarget): AdminToken {
  if (config.AGENTHUB_ADMIN_TOKEN) return { token: config.AGENTHUB_ADMIN_TOKEN, source: 'environment' };
  if (target.mode !== 'embedded' || config.production) {
    throw new ConfigError(
      'invalid configuration:\n  AGENTHUB_ADMIN_TOKEN: required with DATABASE_URL or in production ' +
        '(e.g. `openssl rand -base64 32`)',
    );
  }
  const dir = path.dirname(target.dataDir ?? path.resolve('.agenthub', 'db'));
  const file = path.join(dir, 'admin-token');
  if (fs.existsSync(file)) {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length >= 24) return { token, source: 'data-dir', file };
  }
  const token = `aha_${randomBytes(32).toString('base64url')}`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, source: 'generated', file };
}
