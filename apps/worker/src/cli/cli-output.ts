import { Option, CommandRunner } from 'nest-commander';
import { Presets, SingleBar } from 'cli-progress';
import type { BackupProgress, ProgressListener } from '../backup/backup-events';

export interface OutputOptions {
  json?: boolean;
}

/** A count-based progress bar (import, export): `update(done, total, label)`, `stop()`. */
export interface Progress {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

const SILENT: Progress = { update: () => undefined, stop: () => undefined };

/**
 * How every command of the `agenthub` CLI talks: progress on stderr (only on a TTY and never with --json, so
 * pipes and scripts get clean streams), then a human summary on stdout, or with --json exactly one JSON document
 * on stdout, on one line; the exit code says how it went. A failure is `{ ok: false, status: "failed", error, … }` with
 * --json, else `error: …` on stderr — the same shape from every command.
 */
export class CliOutput {
  private bar: SingleBar | null = null;
  private counters: Progress[] = [];

  constructor(
    private readonly options: OutputOptions,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
  ) {}

  get progressEnabled(): boolean {
    return !this.options.json && Boolean(this.stderr.isTTY);
  }

  /** A listener drawing one bar over tables (rows so far in the payload): backup, verify, restore. */
  progress(label: string): ProgressListener {
    let rows = 0;
    return (event: BackupProgress) => {
      if (!this.progressEnabled) return;
      if (event.phase === 'start') {
        this.bar = new SingleBar(
          { stream: this.stderr, format: `${label} [{bar}] {value}/{total} tables | {rows} rows | {table}`, hideCursor: true, clearOnComplete: true },
          Presets.shades_classic,
        );
        this.bar.start(event.tables, 0, { rows: 0, table: '' });
      } else if (event.phase === 'table') {
        rows += event.rows;
        this.bar?.update(event.index, { rows, table: event.table });
      } else {
        this.stopProgress();
      }
    };
  }

  /** A count-based bar with an estimate of the time left: imports and tenant transfers. */
  counter(title: string): Progress {
    if (!this.progressEnabled) return SILENT;
    const bar = new SingleBar(
      { stream: this.stderr, format: `${title} [{bar}] {percentage}% | {value}/{total} {label} | {eta_formatted} left`, hideCursor: true, etaBuffer: 50 },
      Presets.shades_classic,
    );
    let started = false;
    const progress: Progress = {
      update(done, total, label = '') {
        if (!started) {
          bar.start(Math.max(total, 1), 0, { label });
          started = true;
        }
        bar.setTotal(Math.max(total, done, 1));
        bar.update(done, { label });
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
    this.counters.push(progress);
    return progress;
  }

  stopProgress(): void {
    this.bar?.stop();
    this.bar = null;
    for (const counter of this.counters.splice(0)) counter.stop();
  }

  /** The result: the JSON document, or the summary; `exitCode` 0 unless the result itself says otherwise. */
  done(json: object, summary: string | string[], exitCode = 0): void {
    this.stopProgress();
    if (this.options.json) this.stdout.write(`${JSON.stringify(json)}\n`);
    else this.stdout.write(`${Array.isArray(summary) ? summary.join('\n') : summary}\n`);
    process.exitCode = exitCode;
  }

  /** Failure: `{ ok: false, status: "failed", error, ...extra }` with --json, else the message on stderr; exit code `code`. */
  fail(error: unknown, code = 1, extra: object = {}): void {
    this.stopProgress();
    const message = error instanceof Error ? error.message : String(error);
    if (this.options.json) this.stdout.write(`${JSON.stringify({ ok: false, status: 'failed', error: message, ...extra })}\n`);
    else this.stderr.write(`error: ${message}\n`);
    process.exitCode = code;
  }
}

/**
 * What every command shares: the `--json` option, declared once here, and its CliOutput. Commands extend this
 * instead of CommandRunner.
 */
export abstract class CliCommand extends CommandRunner {
  /** The output for these options. */
  protected output(options: OutputOptions): CliOutput {
    return new CliOutput(options);
  }

  @Option({ flags: '--json', description: 'print the result as one JSON document (no progress bar)' })
  parseJson(): boolean {
    return true;
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** Columns padded to their widest cell: the first left-aligned, the rest right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}
