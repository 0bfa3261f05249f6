import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { ACCESS, type Access } from '../auth/access.decorators';

/**
 * Per-key rate limiting (RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_SECONDS). Runs after authentication, so
 * the budget belongs to the API key (or the admin token), not to an IP that many agents may share. Counters are
 * shared by every replica in Redis when RATE_LIMIT_REDIS_URL is set (RedisWindowCounterStorage), else kept per
 * replica (WindowCounterStorage): N replicas then allow up to N× the limit. Health and docs are not limited.
 */
@Injectable()
export class KeyThrottlerGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS, [context.getHandler(), context.getClass()]);
    return access?.kind === 'public';
  }

  /**
   * The counter's key: route and caller as a plain string. The library's default hashes it with SHA-256 on every
   * request, which buys nothing for an in-memory map.
   */
  protected override generateKey(context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${context.getClass().name}.${context.getHandler().name}:${throttlerName}:${tracker}`;
  }

  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const principal = (request as unknown as FastifyRequest).principal;
    if (principal?.kind === 'key') return `key:${principal.keyId}`;
    if (principal?.kind === 'admin') return 'admin';
    return `ip:${(request as unknown as FastifyRequest).ip}`;
  }
}
