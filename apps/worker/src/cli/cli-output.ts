import { Presets, SingleBar } from 'cli-progress';
import type { BackupProgress, ProgressListener } from '../backup/backup-events';

export interface OutputOptions {
  json?: boolean;
}

/**
 * How every command talks: progress on stderr (only on a TTY and never with --json), a human summary on stdout,
 * or exactly one JSON object on stdout with --json; a failure sets a non-zero exit code.
 */
export class CliOutput {
  private bar: SingleBar | null = null;

  constructor(
    private readonly options: OutputOptions,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
  ) {}

  get progressEnabled(): boolean {
    return !this.options.json && Boolean(this.stderr.isTTY);
  }

  /** A listener drawing one bar over tables (rows so far in the payload). */
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

  stopProgress(): void {
    this.bar?.stop();
    this.bar = null;
  }

  /** Success: the JSON object, or the summary lines. */
  done(json: object, summary: string[]): void {
    this.stopProgress();
    if (this.options.json) this.stdout.write(JSON.stringify(json) + '\n');
    else this.stdout.write(summary.join('\n') + '\n');
  }

  /** Failure: `{ ok: false, error }` with --json, else the message on stderr; exit code `code`. */
  fail(error: unknown, code = 1, extra: object = {}): void {
    this.stopProgress();
    const message = error instanceof Error ? error.message : String(error);
    if (this.options.json) this.stdout.write(JSON.stringify({ ok: false, error: message, ...extra }) + '\n');
    else this.stderr.write(`error: ${message}\n`);
    process.exitCode = code;
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

