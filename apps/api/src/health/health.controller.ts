import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { PrismaService, migrationState } from '@agenthub/db';
import { Public } from '../common/auth/access.decorators';
import { ProblemException } from '../common/problem/problem.exception';
import { Lifecycle } from './lifecycle';

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly prisma: PrismaService,
    private readonly lifecycle: Lifecycle,
  ) {}

  /** Liveness: the process serves requests. */
  @Get()
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: the database answers and every migration is applied (else 503). */
  @Get('ready')
  async ready(): Promise<{ status: 'ok'; database: 'up'; migrations: { applied: number; pending: number } }> {
    if (this.lifecycle.shuttingDown) throw new ProblemException(503, 'shutting down');
    let state;
    try {
      state = await migrationState(this.prisma);
    } catch (error) {
      throw new ProblemException(503, `database unreachable: ${(error as Error).message.split('\n')[0]}`);
    }
    if (state.pending.length || state.failed.length) {
      throw new ProblemException(
        503,
        `migrations not applied: ${[...state.pending, ...state.failed].join(', ')} (run: npx nx run migrate)`,
      );
    }
    return { status: 'ok', database: 'up', migrations: { applied: state.applied.length, pending: 0 } };
  }
}
