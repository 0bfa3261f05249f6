import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { applyMigrations, PrismaService, redactUrl, isTransactionPooler } from '@agenthub/db';
import { CliCommand, table } from '../cli/cli-output';
import { TenantTransferService, type TenantExportResult, type TenantImportResult } from './tenant-transfer.service';

interface ExportOptions {
  org: string;
  out: string;
  sourceUrl?: string;
  json?: boolean;
}

interface ImportTenantOptions {
  targetUrl?: string;
  migrate?: boolean;
  replace?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** A PrismaService on another database than the configured one (`--source-url` / `--target-url`). */
function otherDatabase(url: string, flag: string): PrismaService {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`${flag} must be a postgres:// or postgresql:// URL`);
  // A transfer migrates (a session-level advisory lock) and runs long transactions: directly, never through a pooler.
  if (isTransactionPooler(url)) throw new Error(`${flag} must be a direct connection, not a transaction pooler (pgbouncer=true)`);
  return new PrismaService({ mode: 'postgres', url, poolSize: 2, close: async () => undefined });
}

@Command({ name: 'export', description: 'export one organization to a self-verifying file (gzip JSON Lines, see tenant-transfer/FORMAT.md)' })
export class TenantExportCommand extends CliCommand {
  constructor(@Inject(TenantTransferService) private readonly transfer: TenantTransferService) {
    super();
  }

  async run(_: string[], options: ExportOptions): Promise<void> {
    const out = this.output(options);
    const bar = out.counter('export');
    let db: PrismaService | undefined;
    try {
      if (!options.org || !options.out) throw new Error('--org <organizationId> and --out <file> are required');
      db = options.sourceUrl ? otherDatabase(options.sourceUrl, '--source-url') : undefined;
      const result = await this.transfer.exportTenant(options.org, options.out, { db, onProgress: (done, t) => bar.update(done, done, t) });
      out.done({ ok: true, ...result }, formatExport(result));
    } catch (e) {
      out.fail(e);
    } finally {
      await db?.$disconnect();
    }
  }

  @Option({ flags: '--org <organizationId>', description: 'organization to export (required)', required: true })
  parseOrg(v: string): string {
    return v;
  }

  @Option({ flags: '--out <file>', description: 'file to write, e.g. acme.agenthub.jsonl.gz (required)', required: true })
  parseOut(v: string): string {
    return v;
  }

  @Option({ flags: '--source-url <url>', description: 'export from this PostgreSQL instead of the configured database' })
  parseSource(v: string): string {
    return v;
  }

}

@Command({ name: 'import-tenant', arguments: '<file>', description: 'import an organization exported with `agenthub export`; verified before commit' })
export class TenantImportCommand extends CliCommand {
  constructor(
    @Inject(TenantTransferService) private readonly transfer: TenantTransferService,
    @Inject(PrismaService) private readonly prisma: PrismaService,
  ) {
    super();
  }

  async run([file]: string[], options: ImportTenantOptions): Promise<void> {
    const out = this.output(options);
    const bar = out.counter('import-tenant');
    let db: PrismaService | undefined;
    try {
      db = options.targetUrl ? otherDatabase(options.targetUrl, '--target-url') : undefined;
      // A fresh instance (a new embedded data directory, an empty server) has no tables yet.
      if (options.migrate) await applyMigrations((db ?? this.prisma).target, { quiet: true });
      const result = await this.transfer.importTenant(file, {
        db,
        onConflict: options.replace ? 'replace' : 'fail',
        dryRun: options.dryRun,
        onProgress: (done, _total, t) => bar.update(done, done, t),
      });
      out.done({ ok: true, ...result }, formatImport(result, options.targetUrl));
    } catch (e) {
      out.fail(e);
    } finally {
      await db?.$disconnect();
    }
  }

  @Option({ flags: '--target-url <url>', description: 'import into this PostgreSQL instead of the configured database (it must be migrated)' })
  parseTarget(v: string): string {
    return v;
  }

  @Option({ flags: '--migrate', description: 'apply pending migrations to the target first' })
  parseMigrate(): boolean {
    return true;
  }

  @Option({ flags: '--replace', description: 'replace the organization if it already exists in the target' })
  parseReplace(): boolean {
    return true;
  }

  @Option({ flags: '--dry-run', description: 'read, import and verify inside a transaction, then roll it back' })
  parseDryRun(): boolean {
    return true;
  }

}

function formatExport(r: TenantExportResult): string {
  return [
    `exported organization ${r.organizationId} to ${r.file} (${r.bytes} bytes, schema ${r.schemaVersion}) in ${r.seconds.toFixed(1)} s`,
    table([['table', 'rows', 'sha256'], ...Object.entries(r.tables).map(([t, d]) => [t, String(d.count), d.sha256.slice(0, 16)])]),
  ].join('\n');
}

function formatImport(r: TenantImportResult, targetUrl?: string): string {
  return [
    `${r.dryRun ? 'DRY RUN (rolled back): ' : ''}imported organization ${r.organizationId} from ${r.file}` +
      `${targetUrl ? ` into ${redactUrl(targetUrl)}` : ''}${r.replaced ? ' (replaced the existing one)' : ''} in ${r.seconds.toFixed(1)} s`,
    table([['table', 'rows', 'verified'], ...Object.entries(r.tables).map(([t, d]) => [t, String(d.count), d.verified ? 'ok' : 'MISMATCH'])]),
    `verification: ${r.verified ? 'OK — file digests, rows read and rows in the target all match' : 'FAILED'}`,
  ].join('\n');
}

/** `agenthub export` and `agenthub import-tenant`, for CliModule. */
export const TENANT_TRANSFER_COMMANDS = [TenantExportCommand, TenantImportCommand];
