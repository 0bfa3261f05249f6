import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { CliModule } from './cli/cli.module';
import { ConfigError, loadWorkerConfig } from './config/worker.config';

/**
 * `agenthub …`: backup, backup verify, backups list|prune, restore, retention, and the import/export commands.
 * Nest's own logs are kept to warnings and errors on stderr so stdout carries only the summary or the JSON.
 */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  await CommandFactory.run(CliModule.forRoot(config), {
    // Warnings and errors only, and on stderr (Nest's ConsoleLogger prints warnings on stdout).
    logger: {
      log: () => undefined,
      warn: (message: unknown, context?: string) => process.stderr.write(`warn ${context ? `[${context}] ` : ''}${String(message)}\n`),
      error: (message: unknown, ...rest: unknown[]) => process.stderr.write(`error ${String(message)} ${rest.filter(Boolean).join(' ')}\n`),
    },
    // Options after a subcommand belong to it: `backup verify <id> --json`.
    enablePositionalOptions: true,
    errorHandler: (error) => {
      // commander's own exits (help, version, unknown option) carry their exit code.
      const code = (error as { exitCode?: number }).exitCode;
      process.exit(code === undefined ? 2 : code);
    },
    serviceErrorHandler: (error) => {
      process.stderr.write(`error: ${error.message}\n`);
      process.exitCode = 1;
    },
  });
}

main()
  .then(() => process.exit(process.exitCode ?? 0))
  .catch((error: Error) => {
    process.stderr.write(`agenthub: ${error instanceof ConfigError ? error.message : (error.stack ?? error.message)}\n`);
    process.exit(2);
  });
