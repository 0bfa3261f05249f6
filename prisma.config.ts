// Prisma CLI configuration (migrate, seed). Prisma 6.19 with the JavaScript schema engine: no native engine
// binary is downloaded; the CLI talks to PostgreSQL through the same pg adapter the application uses.
// Without DATABASE_URL the CLI uses the embedded database (PGlite), reusing a running one for the same data dir.
// Studio is not the CLI's: Prisma 6's `prisma studio` downloads a query engine when it starts, whatever is set here,
// so `npx nx run db:studio` serves the engine-free @prisma/studio-core instead (tools/studio).
import { defineConfig } from 'prisma/config';
import { prismaCliAdapter } from './libs/db/src/lib/connection/prisma-cli-adapter';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  migrations: {
    path: 'prisma/migrations',
    seed: 'tsx --tsconfig tools/tsconfig.json tools/scripts/seed.ts',
  },
  adapter: prismaCliAdapter,
});
