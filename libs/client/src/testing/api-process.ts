import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

/** The repository's root (this file is libs/client/src/testing/api-process.ts). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export interface ApiProcess {
  baseUrl: string;
  adminToken: string;
  /** everything the process printed, for a failure's message */
  output(): string;
  stop(): Promise<void>;
}

export interface ApiProcessOptions {
  /** the database to serve (migrated); without it, a fresh embedded database in a temporary directory */
  databaseUrl?: string;
  adminToken?: string;
  /** more environment (e.g. LOG_LEVEL, RATE_LIMIT_MAX) */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

/**
 * The API as its own process — `node -r @swc-node/register apps/api/src/main.ts`, as `npm start` runs it — on a
 * loopback port chosen by the system; resolves once it says where it listens. For what needs the API from outside
 * a test process: the client's code generator, the framework integrations' suites, benchmarks.
 */
export async function startApiProcess(options: ApiProcessOptions = {}): Promise<ApiProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-api-process-'));
  const adminToken = options.adminToken ?? `test-admin-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SWC_NODE_PROJECT: 'apps/api/tsconfig.json',
    HOST: '127.0.0.1',
    PORT: '0',
    AGENTHUB_DATA_DIR: dataDir,
    AGENTHUB_ADMIN_TOKEN: adminToken,
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  else delete env.DATABASE_URL;
  const child: ChildProcess = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/api/src/main.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await closed;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the API did not start within ${options.startTimeoutMs ?? 120_000} ms`)), options.startTimeoutMs ?? 120_000);
      for (const stream of [child.stdout!, child.stderr!]) {
        readline.createInterface({ input: stream }).on('line', (line) => {
          lines.push(line);
          const m = /listening on (http:\/\/\S+?)(?= |$)/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      }
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the API exited with ${code} before listening:\n${lines.join('\n')}`));
      });
    });
    return { baseUrl, adminToken, output: () => lines.join('\n'), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
