import 'reflect-metadata';
import { applyMigrations, AuditSealer, describeDatabase, resolveDatabase, type DatabaseTarget } from '@agenthub/db';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApiApp } from './app.factory';
import { resolveAdminToken } from './config/admin-token';
import { ConfigError, loadApiConfig, type ApiConfig } from './config/api-config';
import { ConversationEventFeed } from './events/conversation-event-feed';
import { ConversationEventRecorder } from './events/conversation-event-recorder';
import { Lifecycle } from './health/lifecycle';

/**
 * `npm start`: validate the configuration, open the database (PostgreSQL at DATABASE_URL, else the embedded
 * one), apply pending migrations, and serve the API on PORT until SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  const config = loadApiConfig();
  const target = await resolveDatabase({
    DATABASE_URL: config.DATABASE_URL,
    DATABASE_DIRECT_URL: config.DATABASE_DIRECT_URL,
    DATABASE_READ_URLS: config.DATABASE_READ_URLS,
    DATABASE_READ_MAX_LAG_MS: String(config.DATABASE_READ_MAX_LAG_MS),
    AGENTHUB_DATA_DIR: config.AGENTHUB_DATA_DIR,
    DATABASE_POOL_SIZE: String(config.DATABASE_POOL_SIZE),
  });
  const say = (line: string) => process.stdout.write(`agenthub api: ${line}\n`);
  say(describeDatabase(target));
  // Before touching the database: a missing token is a configuration error, whatever state the database is in.
  const admin = resolveAdminToken(config, target);
  if (config.AGENTHUB_MIGRATE_ON_START) {
    await applyMigrations(target, { quiet: true });
    say('migrations applied');
  }
  const app = await createApiApp({ config, target, adminToken: admin.token });
  await app.listen({ port: config.PORT, host: config.HOST });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const base = `http://${config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST}:${port}`;
  say(`listening on ${base} — API ${base}/api/v1, docs ${base}/api/docs (OpenAPI JSON ${base}/api/docs-json)`);
  if (admin.source === 'generated') {
    say(`admin token (generated, kept in ${admin.file}; shown this once): ${admin.token}`);
  } else if (admin.source === 'data-dir') {
    say(`admin token: the one kept in ${admin.file}`);
  }
  installShutdown(app, config, target, say);
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: readiness turns 503, live-event streams end, the server stops accepting
 * connections and lets in-flight requests finish (their transactions commit or roll back), the audit sealer seals
 * what they wrote, then the pools and the embedded database close. SHUTDOWN_GRACE_MS bounds the whole sequence.
 */
function installShutdown(app: NestFastifyApplication, config: ApiConfig, target: DatabaseTarget, say: (l: string) => void): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    say(`${signal}: finishing in-flight requests`);
    const timer = setTimeout(() => {
      say(`still busy after ${config.SHUTDOWN_GRACE_MS} ms, exiting`);
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS);
    timer.unref();
    try {
      app.get(Lifecycle).shuttingDown = true;
      app.get(ConversationEventFeed).closeStreams();
      await app.getHttpAdapter().getInstance().close();
      // Every request has committed: announce their live events and seal their audit entries while the pool is open.
      await app.get(ConversationEventRecorder).flushAnnouncements();
      await app.get(AuditSealer).drain();
      await app.close();
      await target.close();
      say('stopped');
      process.exit(0);
    } catch (error) {
      say(`shutdown failed: ${(error as Error).message}`);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`agenthub api: ${error.message}\n`);
  } else {
    process.stderr.write(`agenthub api: failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
