import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import Redis from 'ioredis';
import { WindowCounterStorage, wholeSeconds } from './window-counter.storage';

/**
 * The counters of WindowCounterStorage, kept in Redis so that every API replica counts against one budget per key
 * (RATE_LIMIT_REDIS_URL; issue 16). Same semantics, to the sub-window: a sliding window of RATE_LIMIT_WINDOW_SECONDS
 * counted in 60 sub-windows (any window-long span admits at most `limit` hits), a hit over the limit blocks the key
 * for `blockDuration`, blocked requests do not count, and when the block ends the count starts again.
 *
 * Why not @nest-lab/throttler-storage-redis (the maintained Redis store for @nestjs/throttler): it counts fixed
 * windows (INCR with an expiry set by the first hit), which admits up to 2× the limit across a window's edge, so
 * a deployment moving from one replica to several would loosen its limit; and it sends the whole script with
 * every request (EVAL). Here one Lua script (EVALSHA, atomic on the server) does what `WindowCounterStorage.hit`
 * does, on one hash per key: a field per sub-window with hits, `b` the end of a block, `w` the sub-window length.
 * Time is the Redis server's (TIME), so replicas with skewed clocks still share one window.
 *
 * Redis unreachable or slow (no answer within COMMAND_TIMEOUT_MS): the hit is counted by this replica alone (the
 * in-memory store), a warning says so at most once a minute, and requests go on — a rate limit protects capacity,
 * and refusing every request while Redis is down would turn its outage into the API's. The limit then holds per
 * replica until Redis answers again.
 */
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local block = tonumber(ARGV[3])
local ring = tonumber(ARGV[4])
local bucketMs = math.max(1, math.ceil(ttl / (ring - 1)))
local head = math.floor(now / bucketMs)
local fields = redis.call('HGETALL', KEYS[1])
local blockedUntil, total, oldest, width = 0, 0, nil, nil
local stale = {}
for i = 1, #fields, 2 do
  local f, v = fields[i], tonumber(fields[i + 1])
  if f == 'b' then blockedUntil = v
  elseif f == 'w' then width = v
  else
    local n = tonumber(f)
    if n <= head - ring then stale[#stale + 1] = f
    else
      total = total + v
      if oldest == nil or n < oldest then oldest = n end
    end
  end
end
if width ~= nil and width ~= bucketMs then
  redis.call('DEL', KEYS[1])
  blockedUntil, total, oldest, stale = 0, 0, nil, {}
end
if #stale > 0 then redis.call('HDEL', KEYS[1], unpack(stale)) end
local counted = false
local isBlocked
if block <= 0 then
  isBlocked = total >= limit
  if not isBlocked then counted = true end
else
  if blockedUntil > 0 and blockedUntil <= now then
    redis.call('DEL', KEYS[1])
    blockedUntil, total, oldest = 0, 0, nil
  end
  if blockedUntil == 0 then
    counted = true
    if total + 1 > limit then blockedUntil = now + block end
  end
  isBlocked = blockedUntil > 0
end
if counted then
  redis.call('HINCRBY', KEYS[1], tostring(head), 1)
  total = total + 1
  if oldest == nil then oldest = head end
end
redis.call('HSET', KEYS[1], 'w', bucketMs, 'b', blockedUntil)
local expiry = head * bucketMs + ttl
if oldest ~= nil then expiry = (oldest + ring) * bucketMs end
local keep = math.max(expiry, blockedUntil) - now + 1000
redis.call('PEXPIRE', KEYS[1], keep)
local reported = total
if block <= 0 and isBlocked then reported = total + 1 end
return { reported, expiry - now, isBlocked and 1 or 0, blockedUntil - now }
`;

/** Sub-windows per window, as WindowCounterStorage counts them (its ring is this + 1). */
const BUCKETS = 60;
/** Longer than this, and the hit is counted locally: a rate limit must not add Redis's stall to every request. */
const COMMAND_TIMEOUT_MS = 250;

type WindowHit = (key: string, ttl: number, limit: number, blockDuration: number, ring: number) => Promise<[number, number, number, number]>;

export class RedisWindowCounterStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly redis: Redis & { agenthubWindowHit: WindowHit };
  /** Counts while Redis does not answer. */
  private readonly local = new WindowCounterStorage();
  private lastWarning = 0;

  constructor(
    url: string,
    private readonly prefix = 'agenthub:rate:',
  ) {
    const redis = new Redis(url, {
      // Fail fast instead of queueing hits while disconnected: the local counter takes them meanwhile.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 2_000,
      lazyConnect: false,
    });
    redis.defineCommand('agenthubWindowHit', { numberOfKeys: 1, lua: SCRIPT });
    // ioredis reconnects by itself; an 'error' without a listener would crash the process.
    redis.on('error', (error: Error) => this.warn(error));
    this.redis = redis as Redis & { agenthubWindowHit: WindowHit };
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    try {
      const [totalHits, expiresInMs, blocked, blockEndsInMs] = await this.redis.agenthubWindowHit(
        `${this.prefix}${throttlerName}:${key}`,
        ttl,
        limit,
        blockDuration,
        BUCKETS + 1,
      );
      const isBlocked = blocked === 1;
      return {
        totalHits,
        timeToExpire: wholeSeconds(expiresInMs),
        isBlocked,
        timeToBlockExpire: isBlocked ? wholeSeconds(blockDuration > 0 ? blockEndsInMs : expiresInMs) : 0,
      };
    } catch (error) {
      this.warn(error as Error);
      return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }

  private warn(error: Error): void {
    const now = Date.now();
    if (now - this.lastWarning < 60_000) return;
    this.lastWarning = now;
    this.logger.warn(`rate-limit store (Redis) unavailable, counting per replica meanwhile: ${error.message}`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.local.onApplicationShutdown();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
