/**
 * `npx nx run client:generate [-- --url http://host:port]`: writes libs/client/src/generated/openapi.ts from the
 * API's OpenAPI document. Without --url it starts the API itself (apps/api/src/main.ts, as `nx run api:serve` does)
 * on a temporary embedded database, reads /api/docs-json and stops it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { GENERATED_TYPES, renderTypes } from './index';

const ROOT = path.resolve(__dirname, '..', '..', '..');

async function withApi<T>(fn: (baseUrl: string) => Promise<T>): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-client-generate-'));
  const env: NodeJS.ProcessEnv = { ...process.env, SWC_NODE_PROJECT: 'apps/api/tsconfig.json', HOST: '127.0.0.1', PORT: '0', AGENTHUB_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/api/src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the API did not start within 120 s')), 120_000);
      for (const stream of [child.stdout!, child.stderr!]) {
        readline.createInterface({ input: stream }).on('line', (line) => {
          const m = /listening on (http:\/\/\S+?)(?= |$)/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      }
      child.once('exit', (code) => reject(new Error(`the API exited with ${code} before listening`)));
    });
    return await fn(baseUrl);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('close', resolve));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--url');
  const read = async (baseUrl: string) => {
    const res = await fetch(new URL('/api/docs-json', baseUrl));
    if (!res.ok) throw new Error(`GET /api/docs-json: ${res.status}`);
    return (await res.json()) as object;
  };
  const document = i > 0 ? await read(process.argv[i + 1]) : await withApi(read);
  const file = path.join(ROOT, GENERATED_TYPES);
  fs.writeFileSync(file, await renderTypes(document));
  process.stdout.write(`wrote ${GENERATED_TYPES} (${fs.statSync(file).size} bytes)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${(error as Error).message}\n`);
  process.exit(1);
});
