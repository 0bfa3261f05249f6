import { createZodDto as createNestZodDto } from 'nestjs-zod';

const EMPTY_TYPE = 'x-nestjs_zod-empty-type';

/**
 * Rewrites, everywhere in a JSON schema, `type: [T, "null"]` (JSON Schema 2020-12: what zod ≥ 4.5 writes for a
 * nullable primitive) as OpenAPI 3.0's `type: T, nullable: true`, in place.
 *
 * Why by hand: @nestjs/swagger reads an array `type` as "array of", so every bare nullable field of a DTO reached the
 * document as `{ type: "array", items: { type: "string" } }` — `nextCursor`, `description`, … — and nested ones stayed
 * 3.1 syntax in a 3.0 document (nestjs-zod issue #473, open for nestjs-zod 5.5 + zod 4.6). A generated client
 * (@agenthub/client) then types `nextCursor` as `string[]`.
 */
export function nullableFor30(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) nullableFor30(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  if (Array.isArray(schema.type) && schema.type.includes('null')) {
    const rest = schema.type.filter((t) => t !== 'null');
    if (rest.length === 1) {
      schema.type = rest[0];
      schema.nullable = true;
      delete schema[EMPTY_TYPE];
    }
  }
  for (const value of Object.values(schema)) nullableFor30(value);
}

type AnyDto = { _OPENAPI_METADATA_FACTORY(): unknown; readonly Output: AnyDto; new (): object };

/** `Dto`, its OpenAPI metadata with nullable fields rewritten (nullableFor30); the name the document uses kept. */
function documentedFor30(Dto: AnyDto): AnyDto {
  const Fixed = class extends (Dto as unknown as new () => object) {
    static _OPENAPI_METADATA_FACTORY(): unknown {
      const metadata = Dto._OPENAPI_METADATA_FACTORY.call(this);
      nullableFor30(metadata);
      return metadata;
    }
  };
  Object.defineProperty(Fixed, 'name', { value: (Dto as unknown as { name: string }).name });
  return Fixed as unknown as AnyDto;
}

/**
 * nestjs-zod's createZodDto, the DTO and its `.Output` (what @ZodResponse documents) with nullable fields
 * documented as OpenAPI 3.0 (nullableFor30). Every DTO of the API comes from here.
 */
export const createZodDto = ((schema: Parameters<typeof createNestZodDto>[0], options?: Parameters<typeof createNestZodDto>[1]) => {
  const Base = createNestZodDto(schema, options) as unknown as AnyDto;
  return class extends (documentedFor30(Base) as unknown as new () => object) {
    static get Output(): AnyDto {
      // Read through `this` (the feature's subclass), so that the schema keeps its name: `AgentDto_Output`.
      return documentedFor30(Reflect.get(Base, 'Output', this) as AnyDto);
    }
  };
}) as unknown as typeof createNestZodDto;
