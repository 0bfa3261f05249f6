import { SingleBar, Presets } from 'cli-progress';

/**
 * Terminal output of the import/export commands: a progress bar on stderr while work runs (only when stderr is
 * a terminal and --json is off, so pipes and scripts get clean streams), then the summary on stdout as text or,
 * with --json, as one JSON document.
 */
export interface Progress {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

export function progressBar(json: boolean, title: string): Progress {
  if (json || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    { stream: process.stderr, format: `${title} [{bar}] {percentage}% | {value}/{total} {label} | {eta_formatted} left`, hideCursor: true, etaBuffer: 50 },
    Presets.shades_classic,
  );
  let started = false;
  return {
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
    },
  };
}

/** Prints the result and sets the exit code (0 ok, 1 failed, 3 completed but the verification found differences). */
export function report(json: boolean, result: unknown, text: string, exitCode: number): void {
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${text}\n`);
  process.exitCode = exitCode;
}

/** A failure before any work started (bad option, missing file): the message, on stderr or as JSON. */
export function reportError(json: boolean, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, status: 'failed', error: message }, null, 2)}\n`);
  else process.stderr.write(`error: ${message}\n`);
  process.exitCode = 1;
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}
