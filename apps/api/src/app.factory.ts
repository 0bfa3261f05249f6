import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { z } from 'zod';
import type { DatabaseTarget } from '@agenthub/db';
import { AppModule } from './app.module';
import { documentBodyLimits, installBodyLimits } from './common/http/body-limit';
import { installJsonBodyParser, JsonParseWorkers } from './common/http/json-body';
import { FrameworkLogger } from './common/logging/framework-logger';
import { requestId } from './common/logging/logger';
import { clientErrorHandler, frameworkErrorHandler } from './common/problem/client-errors';
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
    // Routes with @BodyLimit have their own (common/http/body-limit.ts).
    bodyLimit: config.API_BODY_LIMIT_BYTES,
    genReqId: requestId,
    trustProxy: true,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    // What Node's HTTP server and Fastify's router refuse before any route runs (431, 414, 400, 408) as problem+json.
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
  });
  const fastify = adapter.getInstance();
  installBodyLimits(fastify, config);
  const jsonWorkers = new JsonParseWorkers(config.API_JSON_PARSE_THREADS);
  installJsonBodyParser(fastify, jsonWorkers);
  fastify.addHook('onClose', () => jsonWorkers.close());
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
  const logger = new FrameworkLogger(app.get(Logger));
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
  documentBodyLimits(cleaned, config);
  cleaned.components ??= {};
  cleaned.components.schemas ??= {};
  const problemJsonSchema = z.toJSONSchema(problemSchema, { target: 'openapi-3.0' }) as Record<string, unknown>;
  delete problemJsonSchema.$schema;
  cleaned.components.schemas['Problem'] = problemJsonSchema;
  SwaggerModule.setup('api/docs', app, cleaned, { jsonDocumentUrl: 'api/docs-json' });
  await app.init();
  return app;
}
