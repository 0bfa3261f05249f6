import { Inject } from '@nestjs/common';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { redactUrl } from '@agenthub/db';
import { CliCommand, table } from '../cli/cli-output';
import { DEFAULT_BATCH_SIZE, ImportService } from './import.service';
import { ON_CONFLICT_VALUES, type ImportSourceKind, type ImportSummary, type OnConflict } from './import.types';
import { openSource } from './sources/open-source';

export interface ImportCommandOptions {
  org: string;
  dryRun?: boolean;
  onConflict?: OnConflict;
  resume?: string;
  fresh?: boolean;
  batchSize?: number;
  json?: boolean;
}

/** Options every importer takes; the subcommands below differ only in the source they open. */
abstract class ImportSubCommand extends CliCommand {
  protected abstract readonly kind: ImportSourceKind;

  constructor(@Inject(ImportService) private readonly imports: ImportService) {
    super();
  }

  async run([location]: string[], options: ImportCommandOptions): Promise<void> {
    const out = this.output(options);
    let source;
    try {
      if (!options.org) throw new Error('--org <organizationId> is required');
      source = await openSource(this.kind, location, { embeddingDimensions: await this.imports.embeddingDimensions() });
    } catch (e) {
      return out.fail(e);
    }
    const bar = out.counter(`import ${this.kind}`);
    try {
      const summary = await this.imports.run(source, {
        organizationId: options.org,
        dryRun: options.dryRun,
        onConflict: options.onConflict,
        resumeRunId: options.resume,
        noResume: options.fresh,
        batchSize: options.batchSize,
        onProgress: (p) => bar.update(p.done, p.total, p.section),
      });
      // Exit codes: 0 ok, 1 failed, 3 completed but the verification found differences.
      const exit = summary.status === 'failed' ? 1 : summary.verification && !summary.verification.ok ? 3 : 0;
      out.done({ ok: exit === 0, ...summary }, formatSummary(summary, location), exit);
    } catch (e) {
      out.fail(e);
    } finally {
      await source.close();
    }
  }

  @Option({ flags: '--org <organizationId>', description: 'organization to import into (required)', required: true })
  parseOrg(value: string): string {
    return value;
  }

  @Option({ flags: '--dry-run', description: 'report what would change; write nothing' })
  parseDryRun(): boolean {
    return true;
  }

  @Option({ flags: '--on-conflict <mode>', description: 'rows that already exist: skip (default) | replace | fail', defaultValue: 'skip' })
  parseOnConflict(value: string): OnConflict {
    if (!ON_CONFLICT_VALUES.includes(value as OnConflict)) throw new Error(`--on-conflict must be skip, replace or fail, got ${value}`);
    return value as OnConflict;
  }

  @Option({ flags: '--resume <runId>', description: 'resume this run (default: the last unfinished run of the same source is resumed)' })
  parseResume(value: string): string {
    return value;
  }

  @Option({ flags: '--fresh', description: 'start a new run even if an unfinished one exists' })
  parseFresh(): boolean {
    return true;
  }

  @Option({ flags: '--batch-size <n>', description: `messages or records per transaction (default ${DEFAULT_BATCH_SIZE})` })
  parseBatchSize(value: string): number {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error('--batch-size must be an integer from 1 to 100000');
    return n;
  }

}

@SubCommand({ name: 'agentos-sqlite', arguments: '<file>', description: 'import an AgentOS SQLite file (conversations of any AgentOS version, a cognitive-memory brain)' })
export class ImportAgentosCommand extends ImportSubCommand {
  protected readonly kind = 'agentos-sqlite' as const;
}

@SubCommand({ name: 'adk', arguments: '<sqlite-file|postgres-url>', description: 'import a Google ADK DatabaseSessionService store' })
export class ImportAdkCommand extends ImportSubCommand {
  protected readonly kind = 'adk' as const;
}

@SubCommand({ name: 'memory-dump', arguments: '<file.json>', description: 'import a JSON dump of in-memory service dictionaries' })
export class ImportMemoryDumpCommand extends ImportSubCommand {
  protected readonly kind = 'memory-dump' as const;
}

@Command({
  name: 'import',
  description: 'import from a legacy store: agentos-sqlite | adk | memory-dump',
  subCommands: [ImportAgentosCommand, ImportAdkCommand, ImportMemoryDumpCommand],
})
export class ImportCommand extends CommandRunner {
  async run(): Promise<void> {
    process.stderr.write('usage: agenthub import <agentos-sqlite|adk|memory-dump> <source> --org <organizationId> [options]\n');
    process.exitCode = 1;
  }
}

export function formatSummary(s: ImportSummary, location: string): string {
  const where = /^postgres(ql)?:\/\//.test(location) ? redactUrl(location) : location;
  const lines = [
    `${s.dryRun ? 'DRY RUN (nothing written): ' : ''}import ${s.source} ${where} → organization ${s.organizationId}`,
    `run ${s.runId}${s.resumed ? ' (resumed)' : ''}, on conflict: ${s.onConflict}, ${s.status} in ${s.seconds.toFixed(1)} s`,
    '',
    table([
      ['', 'read', s.dryRun ? 'would write' : 'written', s.dryRun ? 'would update' : 'updated', 'skipped', 'rejected'],
      ...Object.entries(s.counts).map(([k, c]) => [k, String(c.read), String(c.written), String(c.updated), String(c.skipped), String(c.rejected)]),
    ]),
  ];
  if (s.rejectedTotal) {
    lines.push('', `rejected (${s.rejectedTotal}${s.rejectedTotal > s.rejections.length ? `, first ${s.rejections.length} listed` : ''}):`);
    for (const r of s.rejections) lines.push(`  ${r.entity} ${r.sourceId}: ${r.reason}`);
  }
  if (s.warningsTotal) {
    lines.push('', `warnings (${s.warningsTotal}${s.warningsTotal > s.warnings.length ? `, first ${s.warnings.length} listed` : ''}):`);
    for (const w of s.warnings) lines.push(`  ${w.entity} ${w.sourceId}: ${w.reason}`);
  }
  if (s.verification) {
    lines.push('', `verification: ${s.verification.ok ? 'OK' : 'DIFFERENCES FOUND'}`);
    lines.push(table([['check', 'source', 'target', ''], ...s.verification.checks.map((c) => [c.name, String(c.expected), String(c.actual), c.ok ? 'ok' : 'MISMATCH'])]).replace(/^/gm, '  '));
    for (const m of s.verification.mismatches) lines.push(`  ! ${m}`);
  }
  if (s.error) lines.push('', `error: ${s.error}`, `resume with: agenthub import ${s.source} … --org ${s.organizationId} (resumes run ${s.runId})`);
  return lines.join('\n');
}

/** The `agenthub import …` commands, for CliModule. */
export const IMPORT_COMMANDS = [ImportCommand, ImportAgentosCommand, ImportAdkCommand, ImportMemoryDumpCommand];
