import { applyDecorators, Header, HttpCode } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import type { JsonText } from '@agenthub/db';
import type { ZodDto } from 'nestjs-zod';
import type { z } from 'zod';

type AnySchema = z.ZodType;

/**
 * A route that answers with JSON text written before it reaches Fastify (by PostgreSQL, see JsonText) instead of an
 * object Fastify would serialize: documented as @ZodResponse documents `type` (the same OpenAPI response, so the
 * generated client does not change), sent with Content-Type application/json as it is. Typed like @ZodResponse: the
 * handler must return JsonText of the DTO's shape.
 */
export function JsonTextResponse<TSchema extends AnySchema>(options: {
  status?: number;
  description?: string;
  type: ZodDto<TSchema, false>;
}): (
  target: object,
  propertyKey: string | symbol,
  descriptor: Pick<TypedPropertyDescriptor<(...args: never[]) => Promise<JsonText<z.input<TSchema>>>>, 'value'>,
) => void {
  const { status, description, type } = options;
  return applyDecorators(
    ...(status ? [HttpCode(status)] : []),
    Header('Content-Type', 'application/json; charset=utf-8'),
    ApiResponse({ status: status ?? 200, description, type: '_zod' in type.schema ? type.Output : type }),
  ) as never;
}
