import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The command admins run (`npx nx run db:studio` runs this file under tsx), as a child process: what it prints,
// that it serves, and that Ctrl+C stops it cleanly. tsx's loader runs in the process itself (`--import tsx`), not
// through its CLI: the CLI is a parent that relays a signal it alone receives to its child, waits 30 ms for the
// child to confirm and otherwise kills it and exits 130, which a loaded machine sometimes lets happen (a terminal's
// Ctrl+C reaches both processes, so admins never meet it).
const ROOT = path.resolve(__dirname, '../../..');
const MAIN = ['--import', 'tsx', 'tools/studio/src/main.ts', '--port', '0'];

interface Cli {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGINT, as Ctrl+C sends; resolves with the exit code */
  stop(): Promise<number | null>;
}

let running: Cli | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

describe('npx nx run db:studio', () => {
  it('on DATABASE_URL: prints the database without its password, serves Studio and stops on Ctrl+C', async () => {
    // A password (the test servers ignore it) and Prisma's `schema` parameter, which is not the driver's.
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.password = 'studio-secret-pw';
    url.searchParams.set('schema', 'public');
    running = await startCli({ DATABASE_URL: url.toString() });

    expect(running.output()).toContain(`PostgreSQL at ${url.protocol}//${url.username}:***@${url.host}`);
    expect(running.output()).not.toContain('studio-secret-pw');
    const res = await fetch(new URL('api/query', running.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        procedure: 'query',
        query: { sql: 'select count(*)::int as n from organizations', parameters: [] },
      }),
    });
    const [error, rows] = (await res.json()) as [unknown, { n: number }[]];
    expect(error).toBeNull();
    expect(rows[0].n).toBeGreaterThanOrEqual(0);

    expect(await running.stop()).toBe(0);
    expect(running.output()).not.toContain('studio-secret-pw');
  });

  it('without DATABASE_URL: starts the embedded database itself when nothing serves it, and says so', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-studio-cli-'));
    try {
      running = await startCli({ DATABASE_URL: '', AGENTHUB_DATA_DIR: dataDir });
      expect(running.output()).toContain(`embedded PostgreSQL (PGlite + pgvector) in ${path.join(dataDir, 'db')}`);
      expect(running.output()).toContain('Studio runs the embedded database itself');
      expect(running.output()).toContain('no tables yet: apply the migrations with `npx nx run migrate`');
      expect((await fetch(running.url)).status).toBe(200);
      expect(fs.existsSync(path.join(dataDir, 'db', 'embedded.json'))).toBe(true);

      expect(await running.stop()).toBe(0);
      // The owner's record goes with it, so the next process starts the database instead of joining a dead one.
      expect(fs.existsSync(path.join(dataDir, 'db', 'embedded.json'))).toBe(false);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

function startCli(env: Record<string, string>): Promise<Cli> {
  const child = spawn(process.execPath, MAIN, {
    cwd: ROOT,
    env: { ...process.env, TSX_TSCONFIG_PATH: 'tools/studio/tsconfig.json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    return exited;
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /open (http:\/\/\S+)/.exec(output);
      if (match) resolve({ child, url: match[1], output: () => output, stop });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`studio exited with ${code} before serving:\n${output}`)));
  });
}
