import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestPrisma } from '@agenthub/db/testing';
import { importServiceOn } from './import-service';
export { importServiceOn };

/** The test database, an ImportService on it and a temporary directory for source files; `close` removes both. */
export function openImportKit(prefix: string) {
  const prisma = createTestPrisma();
  return {
    prisma,
    service: importServiceOn(prisma),
    dir: fs.mkdtempSync(path.join(os.tmpdir(), prefix)),
    async close() {
      await prisma.$disconnect();
      fs.rmSync(this.dir, { recursive: true, force: true });
    },
  };
}
