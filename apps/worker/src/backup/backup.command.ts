import { Inject } from '@nestjs/common';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { BackupRepository, type BackupStatus } from '@agenthub/db';
import { CliCommand, formatBytes } from '../cli/cli-output';
import { BackupBusyError } from './backup-events';
import { BackupIntegrityError, BackupNotFoundError } from './backup-reader';
import { BackupJobsService } from './backup-jobs.service';
import { BackupRetentionService } from './backup-retention.service';
import { BackupVerifyService } from './backup-verify.service';
import { RestoreRefusedError, RestoreService } from './restore.service';

interface JsonOption {
  json?: boolean;
}

/** Exit codes: 0 done, 1 failed, 2 refused / bad input (nothing changed), 3 busy (another backup holds the lock). */
export const EXIT = { failed: 1, refused: 2, busy: 3 } as const;

function exitCode(e: unknown): number {
  if (e instanceof BackupBusyError) return EXIT.busy;
  if (e instanceof RestoreRefusedError || e instanceof BackupNotFoundError) return EXIT.refused;
  return EXIT.failed;
}

@SubCommand({ name: 'verify', arguments: '<id>', description: 'check a stored backup against its manifest' })
export class BackupVerifyCommand extends CliCommand {
  constructor(@Inject(BackupVerifyService) private readonly verifier: BackupVerifyService) {
    super();
  }

  async run([id]: string[], options: JsonOption = {}): Promise<void> {
    // `backup verify <id> --json`: commander hands --json to the parent command, which has one too.
    const out = this.output({ json: options.json || Boolean(this.command.parent?.opts().json) });
    try {
      const result = await this.verifier.verify(id, out.progress('verify'));
      if (!result.ok) return out.fail(new BackupIntegrityError(result.problem ?? 'verification failed'), EXIT.failed, { result });
      out.done(result, [
        `backup ${id}: OK — ${result.tables} tables, ${result.rows} rows, ${formatBytes(result.sizeBytes)}` +
          `${result.encrypted ? ', encrypted (tag verified)' : ''}, schema ${result.schemaVersion}`,
        `  ${result.location}`,
      ]);
    } catch (e) {
      out.fail(e, exitCode(e));
    }
  }

}

@Command({
  name: 'backup',
  description: 'back up the whole database now (then apply retention); `backup verify <id>` checks one',
  subCommands: [BackupVerifyCommand],
})
export class BackupCommand extends CliCommand {
  constructor(@Inject(BackupJobsService) private readonly jobs: BackupJobsService) {
    super();
  }

  async run(_params: string[], options: JsonOption & { retention?: boolean } = {}): Promise<void> {
    const out = this.output(options);
    try {
      const { backup, pruned } = await this.jobs.backupThenPrune({ onProgress: out.progress('backup'), prune: options.retention !== false });
      const { id, location, manifest } = backup;
      out.done(
        {
          ok: true,
          id,
          location,
          schemaVersion: manifest.schemaVersion,
          tables: manifest.tables.length,
          rows: manifest.totals.rows,
          sizeBytes: manifest.object.sizeBytes,
          rawBytes: manifest.totals.bytes,
          encrypted: manifest.encryption !== null,
          ms: manifest.timings.totalMs,
          retention: pruned && { deleted: pruned.deleted.map((d) => d.id) },
        },
        [
          `backup ${id} completed in ${(manifest.timings.totalMs / 1000).toFixed(1)} s`,
          `  ${manifest.tables.length} tables, ${manifest.totals.rows} rows, ${formatBytes(manifest.totals.bytes)} → ` +
            `${formatBytes(manifest.object.sizeBytes)}${manifest.encryption ? ' (encrypted)' : ''}`,
          `  ${location}`,
          ...(pruned?.deleted.length ? [`  retention deleted ${pruned.deleted.length} old backup(s)`] : []),
        ],
      );
    } catch (e) {
      out.fail(e, exitCode(e));
    }
  }


  @Option({ flags: '--no-retention', description: 'do not apply backup retention afterwards' })
  parseRetention(): boolean {
    return false;
  }
}

@SubCommand({ name: 'list', description: 'the backups catalog, newest first' })
export class BackupsListCommand extends CliCommand {
  constructor(@Inject(BackupRepository) private readonly backups: BackupRepository) {
    super();
  }

  async run(_params: string[], options: JsonOption & { limit?: number; status?: BackupStatus; cursor?: string } = {}): Promise<void> {
    const out = this.output(options);
    try {
      const page = await this.backups.listPage({ limit: options.limit ?? 20, status: options.status, cursor: options.cursor });
      const data = page.data.map((b) => ({
        id: b.id,
        status: b.status,
        target: b.target,
        location: b.location,
        schemaVersion: b.schemaVersion,
        sizeBytes: b.sizeBytes,
        encrypted: b.encrypted,
        error: b.error,
        startedAt: b.startedAt.toISOString(),
        finishedAt: b.finishedAt?.toISOString() ?? null,
      }));
      out.done({ ok: true, data, nextCursor: page.nextCursor }, [
        ...data.map(
          (b) =>
            `${b.id}  ${b.status.padEnd(9)} ${b.startedAt}  ${b.sizeBytes === null ? '-' : formatBytes(b.sizeBytes).padStart(9)}  ` +
            `${b.location}${b.error ? `  (${b.error})` : ''}`,
        ),
        `${data.length} backup(s)${page.nextCursor ? ` — more: --cursor ${page.nextCursor}` : ''}`,
      ]);
    } catch (e) {
      out.fail(e, EXIT.refused);
    }
  }


  @Option({ flags: '--limit <n>', description: 'rows per page (1-200, default 20)' })
  parseLimit(v: string): number {
    return Number(v);
  }

  @Option({ flags: '--status <status>', description: 'queued | running | completed | failed' })
  parseStatus(v: string): string {
    return v;
  }

  @Option({ flags: '--cursor <cursor>', description: 'next page' })
  parseCursor(v: string): string {
    return v;
  }
}

@SubCommand({ name: 'prune', description: 'apply backup retention now (BACKUP_RETENTION_COUNT / _DAYS)' })
export class BackupsPruneCommand extends CliCommand {
  constructor(@Inject(BackupRetentionService) private readonly retention: BackupRetentionService) {
    super();
  }

  async run(_params: string[], options: JsonOption = {}): Promise<void> {
    const out = this.output(options);
    try {
      const result = await this.retention.prune();
      out.done({ ok: true, ...result }, [`retention: deleted ${result.deleted.length}, kept ${result.kept} completed backup(s)`]);
    } catch (e) {
      out.fail(e, exitCode(e));
    }
  }

}

@Command({ name: 'backups', description: 'the backups catalog: `backups list`, `backups prune`', subCommands: [BackupsListCommand, BackupsPruneCommand] })
export class BackupsCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}

@Command({
  name: 'restore',
  arguments: '<id>',
  description: 'restore a backup into an empty database (the configured one, or --target-url) and verify it',
})
export class RestoreCommand extends CliCommand {
  constructor(@Inject(RestoreService) private readonly restorer: RestoreService) {
    super();
  }

  async run([id]: string[], options: JsonOption & { force?: boolean; targetUrl?: string } = {}): Promise<void> {
    const out = this.output(options);
    try {
      const result = await this.restorer.restore(id, { force: options.force, targetUrl: options.targetUrl, onProgress: out.progress('restore') });
      out.done({ ok: true, ...result }, [
        `restored backup ${id} into ${result.target} in ${(result.ms / 1000).toFixed(1)} s`,
        `  ${result.tables} tables, ${result.rows} rows; ${result.verifiedTables} tables verified against the manifest`,
      ]);
    } catch (e) {
      out.fail(e, exitCode(e));
    }
  }


  @Option({ flags: '--force', description: 'replace the data of a non-empty target database' })
  parseForce(): boolean {
    return true;
  }

  @Option({ flags: '--target-url <url>', description: 'restore into this PostgreSQL database instead of the configured one' })
  parseTargetUrl(v: string): string {
    return v;
  }
}

/** `agenthub backup …`, `backups …` and `restore`, for CliModule. */
export const BACKUP_COMMANDS = [BackupCommand, BackupVerifyCommand, BackupsCommand, BackupsListCommand, BackupsPruneCommand, RestoreCommand];
