import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { PrismaService, type Db } from '../prisma.service';
import { isUuid } from '../pagination';

export const IMPORT_RUN_SELECT = {
  id: true,
  organizationId: true,
  source: true,
  sourceDigest: true,
  status: true,
  dryRun: true,
  onConflict: true,
  checkpoint: true,
  counts: true,
  error: true,
  startedAt: true,
  finishedAt: true,
} satisfies Prisma.ImportRunSelect;
export type ImportRunRow = Prisma.ImportRunGetPayload<{ select: typeof IMPORT_RUN_SELECT }>;

export interface ImportRunStart {
  organizationId: string;
  /** the importer (`agentos-sqlite`, `adk`, `memory-dump`) */
  source: string;
  /** sha256 of the source's content: a resumed run must read the same data */
  sourceDigest: string;
  dryRun: boolean;
  onConflict: string;
}

/**
 * The record of every importer run (`import_runs`): counts, where it got to, how it ended. The checkpoint is
 * written in the same transaction as the batch it follows, so a run killed at any point resumes exactly after
 * the last batch that committed.
 */
@Injectable()
export class ImportRunRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  async start(input: ImportRunStart, db: Db = this.prisma): Promise<ImportRunRow> {
    return db.importRun.create({ data: { ...input, status: 'running' }, select: IMPORT_RUN_SELECT });
  }

  async findById(id: string, db: Db = this.prisma): Promise<ImportRunRow | null> {
    if (!isUuid(id)) return null;
    return db.importRun.findUnique({ where: { id }, select: IMPORT_RUN_SELECT });
  }

  /**
   * The newest run of this source into this organization that did not complete (still `running` because its
   * process died, or `failed`): the one an import without `--resume` picks up. Dry runs never resume.
   */
  async findResumable(
    organizationId: string,
    source: string,
    sourceDigest: string,
    db: Db = this.prisma,
  ): Promise<ImportRunRow | null> {
    return db.importRun.findFirst({
      where: { organizationId, source, sourceDigest, dryRun: false, status: { in: ['running', 'failed'] } },
      orderBy: { startedAt: 'desc' },
      select: IMPORT_RUN_SELECT,
    });
  }

  /** Marks a resumed run as running again (its error cleared), with the options of the resuming command. */
  async reopen(id: string, onConflict: string, db: Db = this.prisma): Promise<ImportRunRow> {
    return db.importRun.update({
      where: { id },
      data: { status: 'running', error: null, finishedAt: null, onConflict },
      select: IMPORT_RUN_SELECT,
    });
  }

  /** Progress after a batch; pass the batch's transaction so both commit together. */
  async checkpoint(id: string, checkpoint: Prisma.InputJsonValue, counts: Prisma.InputJsonObject, db: Db = this.prisma): Promise<void> {
    await db.importRun.update({ where: { id }, data: { checkpoint, counts } });
  }

  /**
   * The same update as `checkpoint`, as a statement for a caller that runs its batch on its own connection (the
   * importers COPY through plain `pg`, which Prisma's transactions cannot): run it in that batch's transaction.
   */
  checkpointStatement(id: string, checkpoint: Prisma.InputJsonValue, counts: Prisma.InputJsonObject): Prisma.Sql {
    return Prisma.sql`UPDATE import_runs SET checkpoint = ${JSON.stringify(checkpoint)}::jsonb, counts = ${JSON.stringify(counts)}::jsonb
                       WHERE id = ${id}::uuid`;
  }

  async complete(id: string, counts: Prisma.InputJsonObject, db: Db = this.prisma): Promise<ImportRunRow> {
    return db.importRun.update({
      where: { id },
      data: { status: 'completed', counts, finishedAt: new Date(), error: null },
      select: IMPORT_RUN_SELECT,
    });
  }

  async fail(id: string, error: string, counts?: Prisma.InputJsonObject, db: Db = this.prisma): Promise<ImportRunRow> {
    return db.importRun.update({
      where: { id },
      data: { status: 'failed', error: error.slice(0, 4000), finishedAt: new Date(), ...(counts ? { counts } : {}) },
      select: IMPORT_RUN_SELECT,
    });
  }

  /** Runs of one organization, newest first. */
  async listForOrganization(organizationId: string, limit = 20, db: Db = this.prisma): Promise<ImportRunRow[]> {
    if (!isUuid(organizationId)) return [];
    return db.importRun.findMany({
      where: { organizationId },
      orderBy: { startedAt: 'desc' },
      take: Math.min(Math.max(limit, 1), 100),
      select: IMPORT_RUN_SELECT,
    });
  }
}
