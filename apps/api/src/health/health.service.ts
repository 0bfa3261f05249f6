import { Injectable, Logger } from '@nestjs/common';
import { PrismaService, migrationState, type ReplicaStatus } from '@agenthub/db';
import { ProblemException } from '../common/problem/problem.exception';
import { Lifecycle } from './lifecycle';

export interface Readiness {
  status: 'ok';
  database: 'up';
  migrations: { applied: number; pending: number };
  /** DATABASE_READ_URLS only: each replica's state; one that is skipped does not make the API unready */
  replicas?: ReplicaStatus[];
}

@Injectable()
export class HealthService {
  private readonly logger = new Logger('health');
  private lastWarning = 0;
  constructor(
    private readonly prisma: PrismaService,
    private readonly lifecycle: Lifecycle,
  ) {}

  /** Ready: not shutting down, the database answers and every migration is applied; a 503 problem otherwise. */
  async readiness(): Promise<Readiness> {
    if (this.lifecycle.shuttingDown) throw new ProblemException(503, 'shutting down');
    let state;
    try {
      state = await migrationState(this.prisma);
    } catch (error) {
      // The cause names hosts and ports: the log has it (at most one line every 10 s), not this public answer.
      const e = error as Error;
      if (Date.now() - this.lastWarning > 10_000) {
        this.lastWarning = Date.now();
        this.logger.warn(`not ready, database unreachable: ${e.message?.split('\n')[0] || e.name || 'no answer'}`);
      }
      throw new ProblemException(503, 'database unreachable');
    }
    if (state.pending.length || state.failed.length) {
      throw new ProblemException(
        503,
        `migrations not applied: ${[...state.pending, ...state.failed].join(', ')} (run: npx nx run migrate)`,
      );
    }
    const replicas = this.prisma.replicaStatus();
    return { status: 'ok', database: 'up', migrations: { applied: state.applied.length, pending: 0 }, ...(replicas.length ? { replicas } : {}) };
  }
}
