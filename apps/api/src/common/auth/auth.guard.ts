import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ProblemException } from '../problem/problem.exception';
import { ACCESS, type Access } from './access.decorators';
import { AuthService } from './auth.service';
import { roleAtLeast } from './principal';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Global guard: who is calling (401 when nobody valid) and whether that caller may use the route (403). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const access =
      this.reflector.getAllAndOverride<Access | undefined>(ACCESS, [context.getHandler(), context.getClass()]) ??
      ({ kind: 'key', minimum: READ_METHODS.has(request.method) ? 'viewer' : 'member' } as const);
    if (access.kind === 'public') return true;

    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw unauthorized('send Authorization: Bearer <key>');
    const principal = await this.auth.authenticate(match[1]);
    if (!principal) throw unauthorized('the key is not valid or has been revoked');
    request.principal = principal;

    if (access.kind === 'admin') {
      if (principal.kind !== 'admin') throw new ProblemException(403, 'this route needs the operator admin token');
      return true;
    }
    if (principal.kind !== 'key') {
      throw new ProblemException(403, 'the admin token manages organizations and backups only; use an organization API key');
    }
    if (!roleAtLeast(principal.role, access.minimum)) {
      throw new ProblemException(403, `this needs the ${access.minimum} role or higher; the key has ${principal.role}`);
    }
    return true;
  }
}

function unauthorized(detail: string): ProblemException {
  return new ProblemException(401, detail, { headers: { 'www-authenticate': 'Bearer' } });
}
