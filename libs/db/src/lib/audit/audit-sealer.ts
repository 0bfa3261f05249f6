import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { isForeignKeyViolation } from '../errors';
import { PrismaService } from '../prisma.service';
import { AuditLogRepository, type AuditSealResult, type AuditWitness } from '../repositories/audit-log.repository';

export interface AuditSealerOptions {
  /** ms from a witnessed commit to sealing its organization: commits within it are sealed together */
  coalesceMs?: number;
  /** ms between sweeps for entries nobody here witnessed (another replica's, a crashed process's) */
  sweepEveryMs?: number;
}

/** Witnesses kept per process at most (sealing stalled, e.g. database down); beyond, new ones are dropped. */
const MAX_WITNESSES = 100_000;
/** Rejected (MAC failing) ids remembered per process, to warn once per entry. */
const MAX_REJECTED = 10_000;

interface OrgState {
  witnesses: Map<string, string>;
  timer: NodeJS.Timeout | null;
  running: Promise<void> | null;
  /** scheduled again while running */
  again: boolean;
}

/**
 * The sequencer of the audit log (AuditLogRepository says what it proves): seals an organization's pending entries
 * into its hash chain shortly after they commit, off the requests' critical path, like a transparency log's
 * sequencer integrating queued entries into its tree.
 *
 * - `witness(org, entries)`: called after a commit with the ids and MACs it wrote; seals that organization after
 *   `coalesceMs` (commits meanwhile share one sealing transaction) and watches the ids until they are sealed, so a
 *   pending entry deleted before that leaves a tombstone in the chain.
 * - `start()`: sweeps every `sweepEveryMs` for organizations with entries pending longer than that (through the
 *   SECURITY DEFINER function audit_pending_organizations, which row-level security needs), and seals them.
 * - `seal(org)`: one organization now, in tenant transactions of that organization (row-level security), until
 *   nothing is pending; when another sealer (another replica) holds the head it returns and tries again later.
 * - `drain()`: on shutdown, before the pool closes, seals whatever is pending or witnessed.
 *
 * On the embedded database it works the same (one backend: its transactions simply take turns).
 */
@Injectable()
export class AuditSealer implements OnModuleDestroy {
  private readonly logger = new Logger(AuditSealer.name);
  private readonly orgs = new Map<string, OrgState>();
  private readonly rejected = new Set<string>();
  private witnessCount = 0;
  private coalesceMs = 20;
  private sweepEveryMs = 1000;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private stopped = false;
  private droppedWarned = false;

  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Inject(AuditLogRepository) private readonly auditLogs: AuditLogRepository,
  ) {}

  configure(options: AuditSealerOptions): this {
    this.coalesceMs = options.coalesceMs ?? this.coalesceMs;
    this.sweepEveryMs = options.sweepEveryMs ?? this.sweepEveryMs;
    return this;
  }

  /** Starts the periodic sweep (the API calls it at start-up). */
  start(options: AuditSealerOptions = {}): void {
    this.configure(options);
    if (this.sweepTimer || this.stopped) return;
    this.sweepTimer = setInterval(() => void this.sweep(), this.sweepEveryMs);
    this.sweepTimer.unref();
  }

  /** Entries a transaction of this organization wrote and committed: seal them soon, and watch them until then. */
  witness(organizationId: string, entries: Iterable<AuditWitness>): void {
    const state = this.state(organizationId);
    for (const { id, mac } of entries) {
      if (this.witnessCount >= MAX_WITNESSES) {
        if (!this.droppedWarned) this.logger.warn(`more than ${MAX_WITNESSES} audit entries wait for sealing: new ones are not watched for deletion`);
        this.droppedWarned = true;
        break;
      }
      if (!state.witnesses.has(id)) this.witnessCount++;
      state.witnesses.set(id, mac);
    }
    this.schedule(organizationId, this.coalesceMs);
  }

  /**
   * Seals the organization's pending entries now (and checks its witnesses). Returns the totals; `locked: false`
   * when another sealer held the head (it seals them instead, or a later call does).
   */
  async seal(organizationId: string): Promise<AuditSealResult> {
    const total: AuditSealResult = { locked: true, sealed: 0, rejected: [], missing: [], settled: [], more: false };
    for (;;) {
      if (this.stopped) return total;
      const state = this.orgs.get(organizationId);
      const witnesses = state ? [...state.witnesses].map(([id, mac]) => ({ id, mac })) : [];
      // On a plain pg transaction (raw SQL only, like the hot routes): a Prisma interactive transaction per seal
      // was ~8 % of the API's CPU under the append load (perf), for a few statements.
      const result = await this.prisma.rawTransaction(organizationId, (tx) => this.auditLogs.sealPending(organizationId, witnesses, tx));
      if (state) {
        for (const id of result.settled) if (state.witnesses.delete(id)) this.witnessCount--;
      }
      for (const id of result.rejected) this.warnRejected(organizationId, id);
      for (const id of result.missing) {
        this.logger.error(`audit entry ${id} of organization ${organizationId} was deleted before it was sealed: a tombstone is sealed in its place`);
      }
      total.locked = result.locked;
      total.sealed += result.sealed;
      total.rejected.push(...result.rejected);
      total.missing.push(...result.missing);
      total.settled.push(...result.settled);
      if (!result.locked || !result.more) return total;
    }
  }

  /** Seals every organization with entries pending at least `minAgeMs` (default: one sweep interval). */
  sweep(minAgeMs = this.sweepEveryMs): Promise<void> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = (async () => {
      try {
        if (this.stopped) return;
        // In a transaction, not straight on the pool: on the embedded database, whose connections share one
        // backend, a lone extended-protocol query can interleave with another connection's transaction and
        // leave it waiting for good (seen with the API's plain-pg request transactions).
        const rows = await this.prisma.transaction((tx) =>
          this.prisma.queryRows<{ id: string }>(
            tx,
            Prisma.sql`SELECT org::text AS id FROM audit_pending_organizations(${`${Math.max(0, Math.round(minAgeMs))} milliseconds`}::interval) AS org`,
          ),
        );
        await Promise.all(rows.map((r) => this.run(r.id)));
      } catch (error) {
        if (!this.stopped) this.logger.warn(`audit sweep failed: ${(error as Error).message}`);
      } finally {
        this.sweeping = null;
      }
    })();
    return this.sweeping;
  }

  /**
   * Before the pool closes (SIGTERM): stops the timers, waits for running seals, then seals every organization
   * with witnessed or pending entries. Returns when done; the caller bounds it with its grace period.
   */
  async drain(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const state of this.orgs.values()) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = null;
    }
    await Promise.all([...this.orgs.values()].map((s) => s.running));
    await this.sweeping;
    const orgs = new Set([...this.orgs.entries()].filter(([, s]) => s.witnesses.size > 0).map(([org]) => org));
    for (const org of orgs) await this.sealLogged(org);
    await this.sweep(0);
    this.stopped = true;
  }

  /** Nest: no new sealing once the application closes (running transactions are awaited by PrismaService). */
  onModuleDestroy(): void {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const state of this.orgs.values()) if (state.timer) clearTimeout(state.timer);
  }

  private state(organizationId: string): OrgState {
    let state = this.orgs.get(organizationId);
    if (!state) {
      state = { witnesses: new Map(), timer: null, running: null, again: false };
      this.orgs.set(organizationId, state);
    }
    return state;
  }

  private schedule(organizationId: string, delayMs: number): void {
    if (this.stopped) return;
    const state = this.state(organizationId);
    if (state.running) {
      state.again = true;
      return;
    }
    if (state.timer) return;
    state.timer = setTimeout(() => {
      state.timer = null;
      void this.run(organizationId);
    }, delayMs);
    state.timer.unref();
  }

  /** One seal of the organization at a time per process; reschedules what is left. */
  private run(organizationId: string): Promise<void> {
    const state = this.state(organizationId);
    if (state.running) {
      state.again = true;
      return state.running;
    }
    if (state.timer) {
      clearTimeout(state.timer);
      state.timer = null;
    }
    state.again = false;
    state.running = (async () => {
      let retryIn: number | null = null;
      const result = await this.sealLogged(organizationId);
      if (!result) retryIn = 1000; // failed: logged, try again
      else if (!result.locked) retryIn = 25 + Math.random() * 50; // another sealer is at it
      else if (state.witnesses.size > 0) retryIn = this.coalesceMs; // witnessed, but not visible as sealed yet
      state.running = null;
      // Commits witnessed while this seal ran have waited for it already: seal them right away.
      if (state.again && (retryIn === null || retryIn === this.coalesceMs)) retryIn = 0;
      if (retryIn !== null) this.schedule(organizationId, retryIn);
      else if (state.witnesses.size === 0 && !state.timer) this.orgs.delete(organizationId);
    })();
    return state.running;
  }

  private async sealLogged(organizationId: string): Promise<AuditSealResult | null> {
    try {
      return await this.seal(organizationId);
    } catch (error) {
      if (isForeignKeyViolation(error)) {
        // The organization is gone (and its entries with it, by cascade): nothing to seal or to watch.
        const state = this.orgs.get(organizationId);
        if (state) {
          this.witnessCount -= state.witnesses.size;
          state.witnesses.clear();
        }
        return { locked: true, sealed: 0, rejected: [], missing: [], settled: [], more: false };
      }
      if (!this.stopped) this.logger.warn(`sealing the audit log of organization ${organizationId} failed: ${(error as Error).message}`);
      return null;
    }
  }

  private warnRejected(organizationId: string, id: string): void {
    if (this.rejected.has(id)) return;
    if (this.rejected.size >= MAX_REJECTED) this.rejected.clear();
    this.rejected.add(id);
    this.logger.warn(`audit entry ${id} of organization ${organizationId} fails its MAC (forged or modified): left unsealed`);
  }
}
