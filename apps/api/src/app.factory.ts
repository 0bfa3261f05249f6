import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { z } from 'zod';
import type { DatabaseTarget } from '@agenthub/db';
import { AppModule } from './app.module';
import { requestId } from './common/logging/logger';
import { problemSchema } from './common/http/schemas';
import type { ApiConfig } from './config/api-config';

export const API_PREFIX = 'api/v1';

export interface ApiAppOptions {
  config: ApiConfig;
  target: DatabaseTarget;
  adminToken: string;
}

/**
 * The API application, configured but not listening: main.ts serves it, the end-to-end tests listen on port 0.
 * On Fastify, as the issue asks unless Express measures at least as fast; we did not build an Express variant to
 * measure (tools/bench measures the Fastify API against raw pg).
 */
export async function createApiApp(options: ApiAppOptions): Promise<NestFastifyApplication> {
  const { config } = options;
  const adapter = new FastifyAdapter({
    bodyLimit: config.API_BODY_LIMIT_BYTES,
    genReqId: requestId,
    trustProxy: true,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestTimeout: config.REQUEST_TIMEOUT_MS,
  });
  const fastify = adapter.getInstance();
  // JSON only (415 for anything else), and an empty body is "no body", not a parse error.
  fastify.removeContentTypeParser(['text/plain', 'application/json']);
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  const parser = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const text = body.toString();
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, done);
  };
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, parser);
  fastify.addContentTypeParser(/^application\/[a-z0-9.+-]*\+json$/, { parseAs: 'string' }, parser);
  fastify.addHook('preValidation', async (request: FastifyRequest) => {
    if (request.body === undefined && ['POST', 'PUT', 'PATCH'].includes(request.method)) request.body = {};
  });
  fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('x-request-id', request.id);
  });

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), adapter, {
    bufferLogs: true,
    bodyParser: false, // the JSON parser above is the only one
  });
  const logger = app.get(Logger);
  app.useLogger(logger);
  app.flushLogs();
  // Errors Fastify raises before a route handler runs (body parsing, limits) reach Nest's error handler, which
  // hands them to ProblemFilter: the same problem+json shape.
  app.setGlobalPrefix(API_PREFIX, { exclude: ['health', 'health/ready'] });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('AgentHub API')
      .setDescription(
        'Durable, multi-tenant persistence for AI agents. Errors are application/problem+json. ' +
          'Authenticate with `Authorization: Bearer <key>`.',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  const cleaned = cleanupOpenApiDoc(document);
  cleaned.components ??= {};
  cleaned.components.schemas ??= {};
  const problemJsonSchema = z.toJSONSchema(problemSchema, { target: 'openapi-3.0' }) as Record<string, unknown>;
  delete problemJsonSchema.$schema;
  cleaned.components.schemas['Problem'] = problemJsonSchema;
  SwaggerModule.setup('api/docs', app, cleaned, { jsonDocumentUrl: 'api/docs-json' });
  await app.init();
  return app;
}
