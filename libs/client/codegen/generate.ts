/**
 * `npx nx run client:generate [-- --url http://host:port]`: writes libs/client/src/generated/openapi.ts from the
 * API's OpenAPI document. Without --url it starts the API itself (apps/api/src/main.ts, as `nx run api:serve` does)
 * on a temporary embedded database, reads /api/docs-json and stops it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startApiProcess } from '../src/testing/api-process';
import { GENERATED_TYPES, renderTypes } from './index';

const ROOT = path.resolve(__dirname, '..', '..', '..');

async function withApi<T>(fn: (baseUrl: string) => Promise<T>): Promise<T> {
  const api = await startApiProcess();
  try {
    return await fn(api.baseUrl);
  } finally {
    await api.stop();
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
