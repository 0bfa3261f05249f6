import { createHash, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { API_KEYS_CHANGED_CHANNEL, ApiKeyRepository, LISTENER_HEARTBEAT_MS, PgListener, hashApiKey, type Db } from '@agenthub/db';
import { ADMIN_TOKEN } from '../../config/tokens';
import { TenantTransactions } from '../tenancy/tenant-transactions';
import type { KeyPrincipal, Principal } from './principal';

const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;
/**
 * A revoked key is refused by every replica within 1 s of the revocation's commit: a cached key is used only while
 * this replica's LISTEN connection has proven within TRUST_CACHE_MS that it delivers (PgListener.deliveredWithin),
 * so a revocation's NOTIFY committed before then has cleared the cache. Otherwise the key is looked up again.
 */
const REVOCATION_BOUND_MS = 1000;
const TRUST_CACHE_MS = REVOCATION_BOUND_MS - LISTENER_HEARTBEAT_MS;

/**
 * Resolves a bearer token to a principal. Organization keys are looked up by their SHA-256 hash (the secret
 * itself is never stored), under row-level security that shows only the row with that hash. Valid keys are cached
 * for 30 s per replica, so most requests cost no lookup; a revocation clears the cache at once on the replica
 * that revoked and, through NOTIFY, on every other one — within 1 s even on a replica whose LISTEN connection went
 * silent, which stops trusting its cache (REVOCATION_BOUND_MS).
 */
@Injectable()
export class AuthService implements OnModuleInit {
  private readonly adminHash: Buffer;
  private readonly cache = new Map<string, { principal: KeyPrincipal; expires: number }>();
  /** Lookups under way: concurrent requests with an uncached key share one (no stampede when an entry expires). */
  private readonly inflight = new Map<string, { lookup: Promise<KeyPrincipal | null>; startedAt: number }>();
  /** Bumped by every clear, so a lookup that started before a revocation does not put the key back. */
  private generation = 0;

  constructor(
    private readonly tenants: TenantTransactions,
    private readonly apiKeys: ApiKeyRepository,
    private readonly listener: PgListener,
    @Inject(ADMIN_TOKEN) adminToken: string,
  ) {
    this.adminHash = createHash('sha256').update(adminToken).digest();
  }

  onModuleInit(): void {
    this.listener.on(API_KEYS_CHANGED_CHANNEL, () => this.clear());
  }

  async authenticate(token: string): Promise<Principal | null> {
    const digest = createHash('sha256').update(token).digest();
    if (timingSafeEqual(digest, this.adminHash)) return { kind: 'admin' };
    const keyHash = hashApiKey(token);
    const cached = this.cache.get(keyHash);
    const trusted = this.listener.deliveredWithin(TRUST_CACHE_MS);
    if (cached && cached.expires > Date.now() && trusted) return cached.principal;
    const underWay = this.inflight.get(keyHash);
    // A lookup under way is joined only if it cannot predate a revocation this replica has not heard of: it
    // started within TRUST_CACHE_MS, or the LISTEN connection is trusted (a revocation would have cleared it).
    let pending = underWay && (trusted || performance.now() - underWay.startedAt <= TRUST_CACHE_MS) ? underWay.lookup : undefined;
    if (!pending) {
      const generation = this.generation;
      const lookup: Promise<KeyPrincipal | null> = this.lookup(token, keyHash)
        .then((principal) => {
          if (generation !== this.generation) return principal;
          if (principal) {
            if (this.cache.size >= CACHE_MAX) this.cache.clear();
            this.cache.set(keyHash, { principal, expires: Date.now() + CACHE_TTL_MS });
          } else {
            this.cache.delete(keyHash);
          }
          return principal;
        })
        .finally(() => {
          if (this.inflight.get(keyHash)?.lookup === lookup) this.inflight.delete(keyHash);
        });
      this.inflight.set(keyHash, { lookup, startedAt: performance.now() });
      pending = lookup;
    }
    return pending;
  }

  private clear(): void {
    this.generation++;
    this.cache.clear();
    this.inflight.clear();
  }

  /** Drops cached keys here and tells the other replicas to (the NOTIFY is delivered when `tx` commits). */
  async keysChanged(tx: Db): Promise<void> {
    this.clear();
    await this.apiKeys.announceChanged(tx);
  }

  private async lookup(token: string, keyHash: string): Promise<KeyPrincipal | null> {
    return this.tenants.keyLookup(keyHash, async (tx, enter) => {
      const key = await this.apiKeys.findActiveByKey(token, tx);
      if (!key) return null;
      await enter(key.organizationId);
      await this.apiKeys.touchLastUsed(key.id, tx);
      return { kind: 'key', organizationId: key.organizationId, keyId: key.id, role: key.role, userId: key.userId ?? null };
    });
  }
}
