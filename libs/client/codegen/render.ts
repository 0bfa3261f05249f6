/**
 * Reads an OpenAPI document (JSON) on stdin and writes its generated types on stdout, exactly as `generate` writes
 * them to the file: the API's drift test runs this in a child process (openapi-typescript loads ESM-only modules
 * that Jest's module system cannot).
 */
import { renderTypes } from './index';

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  process.stdout.write(await renderTypes(JSON.parse(Buffer.concat(chunks).toString('utf8')) as object));
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${(error as Error).message}\n`);
  process.exit(1);
});
