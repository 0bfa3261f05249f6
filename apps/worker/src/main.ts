import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadWorkerConfig } from './config/worker.config';
import { MigrationsBehindError } from './migrations/migration-check.service';
import { WorkerModule } from './worker.module';

/**
 * The worker process: scheduled backups, queued backup requests from the API, retention jobs. No HTTP server.
 * Exits non-zero, with the reason on stderr, when the configuration is invalid or migrations are behind.
 */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const levels = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: levels.slice(0, levels.indexOf(config.logLevel) + 1) as unknown as typeof levels[number][],
    abortOnError: false,
  });
  app.enableShutdownHooks();
  new Logger('worker').log('agenthub worker started');
}

main().catch((error: Error) => {
  const known = error instanceof ConfigError || error instanceof MigrationsBehindError;
  process.stderr.write(`agenthub worker: ${known ? error.message : (error.stack ?? error.message)}\n`);
  process.exit(known ? 2 : 1);
});
