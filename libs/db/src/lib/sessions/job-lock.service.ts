import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { tryPidLock } from '../connection/pid-lock';
import { sessionUrl } from '../connection/database-config';
import { pgSessionClient } from '../connection/pg-adapter';
import { PrismaService } from '../prisma.service';

export interface HeldLock {
  /** false once the connection holding an advisory lock dropped: the job must not claim success. */
  readonly held: boolean;
  release(): Promise<void>;
}

/**
 * One job of a kind at a time across every worker and command line process.
 *
 * PostgreSQL: `pg_try_advisory_lock` on a dedicated connection held for the whole job (the direct one when
 * DATABASE_URL is a transaction pooler: a session-level lock needs a session of its own); if the process dies, the
 * server drops the connection and the lock with it, which is how the stale-run sweeper knows a `running` row is
 * abandoned. Embedded: every connection shares PGlite's single backend session, where advisory locks are
 * re-entrant and so exclude nobody; there a lock file with the owner's pid in the data directory does the job
 * (a file whose pid is dead is taken over).
 */
@Injectable()
export class JobLockService {
  private readonly logger = new Logger(JobLockService.name);

  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  async tryAcquire(name: string): Promise<HeldLock | null> {
    return this.prisma.target.mode === 'embedded' ? this.fileLock(name) : this.advisoryLock(name);
  }

  private async advisoryLock(name: string): Promise<HeldLock | null> {
    const client = pgSessionClient(sessionUrl(this.prisma.target), { application_name: `agenthub-lock:${name}` });
    let held = false;
    client.on('error', (e) => {
      if (held) this.logger.error(`lost the connection holding the ${name} lock: ${e.message}`);
      held = false;
    });
    await client.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>(`select pg_try_advisory_lock(hashtextextended($1, 0)) as ok`, [
        `agenthub:${name}`,
      ]);
      if (!rows[0].ok) {
        await client.end();
        return null;
      }
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    held = true;
    return {
      get held() {
        return held;
      },
      release: async () => {
        held = false;
        // Ending the session releases its advisory locks.
        await client.end().catch(() => undefined);
      },
    };
  }

  private async fileLock(name: string): Promise<HeldLock | null> {
    // The data directory when this process knows it; else (a URL to someone else's embedded server) the temp
    // directory, keyed by the URL.
    const dir = this.prisma.target.dataDir ?? os.tmpdir();
    const tag = this.prisma.target.dataDir ? '' : `-${createHash('sha1').update(this.prisma.target.url).digest('hex').slice(0, 12)}`;
    const file = path.join(dir, `agenthub-${name}${tag}.lock`);
    const release = tryPidLock(file);
    if (!release) return null;
    let held = true;
    return {
      get held() {
        return held;
      },
      release: async () => {
        held = false;
        release();
      },
    };
  }
}

