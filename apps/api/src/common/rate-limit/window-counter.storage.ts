import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

/** Sub-windows per window: a hit is forgotten between `ttl` and `ttl + 2 · ttl / BUCKETS` after it happened. */
const BUCKETS = 60;
/** Slots of the ring: the current sub-window and the BUCKETS before it, so a hit counts for at least `ttl`. */
const RING = BUCKETS + 1;

interface Counter {
  /** hits per sub-window, a ring indexed by sub-window number modulo RING */
  counts: Uint32Array;
  /** the sub-window number (floor(time / bucketMs)) of the newest slot in `counts` */
  head: number;
  bucketMs: number;
  total: number;
  blockedUntil: number;
}

/**
 * In-memory rate-limit counters in O(1) per request and O(BUCKETS) memory per key.
 *
 * Why not the library's ThrottlerStorageService: it keeps one timestamp per hit in the window and filters that
 * array on every request (and spreads it into Math.min), so a key allowed RATE_LIMIT_MAX = 6,000 per minute costs
 * a 6,000-element copy per request, and a raised limit grows it without bound (7 % of the API's CPU under the
 * append benchmark). No maintained package offers a bounded in-memory store for @nestjs/throttler (the others are
 * Redis stores), so this is the sliding window of the library's own semantics, counted in 60 sub-windows: a hit
 * counts until its sub-window has wholly left the window, so any `ttl` span admits at most `limit` hits (a hit is
 * remembered up to 1/30 of the window longer than exactly, never shorter). Blocking is the library's: a hit over
 * the limit blocks the key for `blockDuration`, blocked requests do not count, and when the block ends the count
 * starts again from that request.
 */
@Injectable()
export class WindowCounterStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly counters = new Map<string, Counter>();
  private sweep: NodeJS.Timeout | undefined;

  /** The clock (tests set their own). */
  now: () => number = Date.now;

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    return this.hit(`${throttlerName}\u0000${key}`, ttl, limit, blockDuration);
  }

  /** The synchronous body of `increment` (the guard awaits it; nothing here waits). */
  hit(id: string, ttl: number, limit: number, blockDuration: number): ThrottlerStorageRecord {
    const now = this.now();
    this.startSweep(ttl);
    const bucketMs = Math.max(1, Math.ceil(ttl / BUCKETS));
    let c = this.counters.get(id);
    if (!c || c.bucketMs !== bucketMs) {
      c = { counts: new Uint32Array(RING), head: Math.floor(now / bucketMs), bucketMs, total: 0, blockedUntil: 0 };
      this.counters.set(id, c);
    }
    advance(c, now);
    if (blockDuration <= 0) {
      const isBlocked = c.total >= limit;
      if (!isBlocked) count(c);
      const timeToExpire = secondsUntil(oldestExpiry(c, ttl), now);
      return { totalHits: c.total + (isBlocked ? 1 : 0), timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
    }
    if (c.blockedUntil > 0 && c.blockedUntil <= now) {
      // The block is over: start counting again from this request.
      c.counts.fill(0);
      c.total = 0;
      c.blockedUntil = 0;
    }
    if (c.blockedUntil === 0) {
      count(c);
      if (c.total > limit) c.blockedUntil = now + blockDuration;
    }
    const isBlocked = c.blockedUntil > 0;
    return {
      totalHits: c.total,
      timeToExpire: secondsUntil(oldestExpiry(c, ttl), now),
      isBlocked,
      timeToBlockExpire: isBlocked ? secondsUntil(c.blockedUntil, now) : 0,
    };
  }

  /** Forgets keys with no hit in their window and no block (a timer, unref'd, every window or minute at most). */
  evictIdle(): void {
    const now = this.now();
    for (const [id, c] of this.counters) {
      if (c.blockedUntil > now) continue;
      advance(c, now);
      if (c.total === 0) this.counters.delete(id);
    }
  }

  /** Keys currently held (for tests and diagnostics). */
  get size(): number {
    return this.counters.size;
  }

  onApplicationShutdown(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = undefined;
    this.counters.clear();
  }

  private startSweep(ttl: number): void {
    if (this.sweep) return;
    this.sweep = setInterval(() => this.evictIdle(), Math.min(Math.max(ttl, 1000), 60_000));
    this.sweep.unref();
  }
}

/** Moves the ring to the sub-window of `now`, dropping the hits of the sub-windows that left it. */
function advance(c: Counter, now: number): void {
  const current = Math.floor(now / c.bucketMs);
  const steps = current - c.head;
  if (steps <= 0) return;
  if (steps >= RING) {
    c.counts.fill(0);
    c.total = 0;
  } else {
    for (let s = 1; s <= steps; s++) {
      const slot = (c.head + s) % RING;
      c.total -= c.counts[slot];
      c.counts[slot] = 0;
    }
  }
  c.head = current;
}

function count(c: Counter): void {
  c.counts[c.head % RING]++;
  c.total++;
}

/** When the oldest counted hit stops counting (now + ttl when there is none). */
function oldestExpiry(c: Counter, ttl: number): number {
  for (let age = RING - 1; age >= 0; age--) {
    const bucket = c.head - age;
    if (c.counts[bucket % RING] > 0) return (bucket + RING) * c.bucketMs;
  }
  return c.head * c.bucketMs + ttl;
}

function secondsUntil(at: number, now: number): number {
  return wholeSeconds(at - now);
}

/** A wait in ms as the throttler reports it (Retry-After, X-RateLimit-Reset): whole seconds, rounded up, at least 1. */
export function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
