import { DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { resolveDatabase, type DatabaseEnv, type DatabaseTarget } from './connection/database-config';
import { DATABASE_TARGET, PrismaService } from './prisma.service';
import { REPOSITORIES } from './repositories';
import { PgListener } from './notifications/pg-listener';

export interface DbModuleOptions {
  /** Where to read DATABASE_URL / AGENTHUB_DATA_DIR from (the app's validated config); default process.env. */
  env?: DatabaseEnv;
  /** An already resolved database (tests, tools). */
  target?: DatabaseTarget;
}

/**
 * The data layer for a NestJS app: resolves the database once (PostgreSQL or the embedded default), provides
 * PrismaService, the LISTEN connection (PgListener) and every repository. Import it once, in the root module: `DbModule.forRoot({ env: config })`.
 */
@Global()
@Module({})
export class DbModule {
  static forRoot(options: DbModuleOptions = {}): DynamicModule {
    const target: Provider = {
      provide: DATABASE_TARGET,
      useFactory: () => options.target ?? resolveDatabase(options.env),
    };
    return {
      module: DbModule,
      providers: [target, PrismaService, PgListener, ...REPOSITORIES],
      exports: [DATABASE_TARGET, PrismaService, PgListener, ...REPOSITORIES],
    };
  }
}
