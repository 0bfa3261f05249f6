import { createHash } from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Inject, Injectable } from '@nestjs/common';
import { PrismaService } from '@agenthub/db';
import {
  parseRowLine,
  rowLine,
  TENANT_FORMAT,
  TENANT_FORMAT_VERSION,
  TENANT_TABLES,
  type TableDigest,
  type TenantFooter,
  type TenantHeader,
} from './tenant-format';
import { TenantTransferRepository } from './tenant-transfer.repository';

const LONG_TX = { timeout: 6 * 3600_000, maxWait: 60_000, retries: 0 };
const INSERT_BATCH = 1000;

export interface TenantExportResult {
  file: string;
  organizationId: string;
  schemaVersion: string;
  bytes: number;
  tables: Record<string, TableDigest>;
  seconds: number;
}

export interface TenantImportOptions {
  /** what to do when the organization already exists in the target: fail (default) or replace it */
  onConflict?: 'fail' | 'replace';
  dryRun?: boolean;
  onProgress?: (done: number, total: number, table: string) => void;
}

export interface TenantImportResult {
  file: string;
  organizationId: string;
  dryRun: boolean;
  replaced: boolean;
  tables: Record<string, TableDigest & { verified: boolean }>;
  verified: boolean;
  seconds: number;
}

class DryRunRollback extends Error {}

/**
 * Moves one organization between databases (embedded ↔ PostgreSQL, or server to server) through a file that
 * describes and verifies itself (FORMAT.md). Export reads a REPEATABLE READ snapshot; import writes everything
 * in one transaction and commits only when the file's digests match what it read AND what the target holds
 * afterwards (re-exported inside the transaction) — so a truncated, edited or lossy transfer changes nothing.
 */
@Injectable()
export class TenantTransferService {
  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Inject(TenantTransferRepository) private readonly repo: TenantTransferRepository,
  ) {}

  async exportTenant(
    organizationId: string,
    file: string,
    options: { db?: PrismaService; onProgress?: (done: number, table: string) => void } = {},
  ): Promise<TenantExportResult> {
    const started = Date.now();
    const db = options.db ?? this.prisma;
    if (!/^[0-9a-f-]{36}$/i.test(organizationId)) throw new Error(`organization ${organizationId} is not a UUID`);
    const tmp = `${file}.partial`;
    const result = await db.transaction(
      async (tx) => {
        await this.repo.prepareSession(tx);
        const org = await this.repo.organization(tx, organizationId);
        if (!org) throw new Error(`organization ${organizationId} does not exist in the source database`);
        const header: TenantHeader = {
          format: TENANT_FORMAT,
          version: TENANT_FORMAT_VERSION,
          schemaVersion: await this.repo.schemaVersion(tx),
          organizationId,
          organizationName: org.name,
          exportedAt: new Date().toISOString(),
          tables: TENANT_TABLES.map((t) => t.name),
        };
        const repo = this.repo;
        const tables: Record<string, TableDigest> = {};
        const fileHash = createHash('sha256');
        let done = 0;
        async function* lines() {
          const h = JSON.stringify(header);
          fileHash.update(`${h}\n`);
          yield `${h}\n`;
          for (const table of TENANT_TABLES) {
            const hash = createHash('sha256');
            let count = 0;
            for await (const page of repo.rows(tx, table, organizationId)) {
              let chunk = '';
              for (const row of page) {
                hash.update(`${row}\n`, 'utf8');
                const line = `${rowLine(table.name, row)}\n`;
                fileHash.update(line, 'utf8');
                chunk += line;
              }
              count += page.length;
              done += page.length;
              options.onProgress?.(done, table.name);
              yield chunk;
            }
            tables[table.name] = { count, sha256: hash.digest('hex') };
          }
          const footer: TenantFooter = { footer: true, tables, sha256: fileHash.digest('hex') };
          yield `${JSON.stringify(footer)}\n`;
        }
        // Written to a side file and renamed at the end: a failed export never leaves a plausible-looking file.
        await pipeline(Readable.from(lines()), zlib.createGzip({ level: 6 }), fs.createWriteStream(tmp));
        return { header, tables };
      },
      { ...LONG_TX, isolationLevel: 'RepeatableRead' },
    ).catch((e) => {
      fs.rmSync(tmp, { force: true });
      throw e;
    });
    fs.renameSync(tmp, file);
    return {
      file,
      organizationId,
      schemaVersion: result.header.schemaVersion,
      bytes: fs.statSync(file).size,
      tables: result.tables,
      seconds: (Date.now() - started) / 1000,
    };
  }

  /** Reads and checks the header of a tenant file without importing it. */
  async readHeader(file: string): Promise<TenantHeader> {
    for await (const line of this.lines(file)) return this.checkHeader(line);
    throw new Error(`${file} is empty`);
  }

  async importTenant(file: string, options: TenantImportOptions & { db?: PrismaService } = {}): Promise<TenantImportResult> {
    const started = Date.now();
    const db = options.db ?? this.prisma;
    const header = await this.readHeader(file);
    let result: TenantImportResult | undefined;
    try {
      await db.transaction(async (tx) => {
        await this.repo.prepareSession(tx);
        const schema = await this.repo.schemaVersion(tx);
        if (schema !== header.schemaVersion) {
          throw new Error(`schema mismatch: the file was exported at migration ${header.schemaVersion}, the target is at ${schema}; migrate the older side first`);
        }
        const existing = await this.repo.organization(tx, header.organizationId);
        if (existing && options.onConflict !== 'replace') {
          throw new Error(`organization ${header.organizationId} already exists in the target; use --replace to overwrite it`);
        }
        if (existing) await this.repo.deleteOrganization(tx, header.organizationId);

        const read: Record<string, { count: number; hash: ReturnType<typeof createHash> }> = {};
        const fileHash = createHash('sha256');
        let footer: TenantFooter | null = null;
        let first = true;
        const pending: { table: string; rows: string[] } = { table: '', rows: [] };
        let done = 0;
        const order = header.tables;
        let position = 0;
        const flush = async () => {
          await this.repo.insertRows(tx, pending.table, pending.rows);
          done += pending.rows.length;
          options.onProgress?.(done, 0, pending.table);
          pending.rows = [];
        };
        for await (const line of this.lines(file)) {
          if (footer) throw new Error(`${file}: data after the footer`);
          if (first) {
            first = false;
            fileHash.update(`${line}\n`, 'utf8');
            continue;
          }
          const row = parseRowLine(line);
          if (!row) {
            footer = this.parseFooter(line, file);
            continue;
          }
          fileHash.update(`${line}\n`, 'utf8');
          // Tables arrive in header order; a table out of order would break foreign keys and means a broken file.
          while (position < order.length && order[position] !== row.table) position++;
          if (position === order.length || !TENANT_TABLES.some((t) => t.name === row.table)) {
            throw new Error(`${file}: unexpected table ${row.table} (or out of order)`);
          }
          if (pending.table !== row.table || pending.rows.length >= INSERT_BATCH) {
            if (pending.rows.length) await flush();
            pending.table = row.table;
          }
          pending.rows.push(row.row);
          const r = (read[row.table] ??= { count: 0, hash: createHash('sha256') });
          r.count++;
          r.hash.update(`${row.row}\n`, 'utf8');
        }
        if (pending.rows.length) await flush();
        if (!footer) throw new Error(`${file} is truncated: no footer`);
        const f = footer as TenantFooter;
        if (fileHash.digest('hex') !== f.sha256) throw new Error(`${file}: content does not match its footer digest (edited or corrupted)`);
        const tables: TenantImportResult['tables'] = {};
        const problems: string[] = [];
        // What the file said, what we read, and what the target now holds must all agree.
        const now = await this.repo.digests(tx, header.organizationId);
        for (const name of order) {
          const expected = f.tables[name] ?? { count: 0, sha256: createHash('sha256').digest('hex') };
          const got = read[name] ? { count: read[name].count, sha256: read[name].hash.digest('hex') } : { count: 0, sha256: createHash('sha256').digest('hex') };
          const target = now[name];
          const verified = got.count === expected.count && got.sha256 === expected.sha256 && target.count === expected.count && target.sha256 === expected.sha256;
          if (!verified) problems.push(`${name}: file ${expected.count}/${expected.sha256.slice(0, 12)}, read ${got.count}/${got.sha256.slice(0, 12)}, target ${target.count}/${target.sha256.slice(0, 12)}`);
          tables[name] = { ...expected, verified };
        }
        if (problems.length) throw new Error(`verification failed, nothing imported:\n  ${problems.join('\n  ')}`);
        result = {
          file,
          organizationId: header.organizationId,
          dryRun: !!options.dryRun,
          replaced: !!existing,
          tables,
          verified: true,
          seconds: 0,
        };
        if (options.dryRun) throw new DryRunRollback();
      }, LONG_TX);
    } catch (e) {
      if (!(e instanceof DryRunRollback)) throw e;
    }
    return { ...result!, seconds: (Date.now() - started) / 1000 };
  }

  private checkHeader(line: string): TenantHeader {
    let header: TenantHeader;
    try {
      header = JSON.parse(line) as TenantHeader;
    } catch {
      throw new Error('not an AgentHub tenant file: the first line is not JSON');
    }
    if (header?.format !== TENANT_FORMAT) throw new Error('not an AgentHub tenant file: format is not agenthub-tenant');
    if (header.version !== TENANT_FORMAT_VERSION) throw new Error(`tenant file version ${header.version} is not supported (this build reads ${TENANT_FORMAT_VERSION})`);
    if (!Array.isArray(header.tables) || typeof header.organizationId !== 'string' || typeof header.schemaVersion !== 'string') {
      throw new Error('tenant file header is incomplete');
    }
    return header;
  }

  private parseFooter(line: string, file: string): TenantFooter {
    try {
      const f = JSON.parse(line) as TenantFooter;
      if (f.footer === true && f.tables && typeof f.sha256 === 'string') return f;
    } catch {
      // fall through
    }
    throw new Error(`${file}: a line is neither a row nor the footer`);
  }

  private async *lines(file: string): AsyncGenerator<string> {
    if (!fs.existsSync(file)) throw new Error(`no such file: ${file}`);
    const gunzip = zlib.createGunzip();
    const input = fs.createReadStream(file).pipe(gunzip);
    const failure = new Promise<never>((_, reject) => gunzip.once('error', (e) => reject(new Error(`${file} is not a readable gzip file: ${e.message}`))));
    failure.catch(() => undefined);
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    const it = rl[Symbol.asyncIterator]();
    for (;;) {
      const next = await Promise.race([it.next(), failure]);
      if (next.done) break;
      yield next.value;
    }
  }
}
