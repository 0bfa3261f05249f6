import { z } from 'zod';
import { createZodDto, nullableFor30 } from './zod-dto';

describe('nullable fields in the OpenAPI document', () => {
  it('rewrites JSON Schema 2020-12 type lists with null as OpenAPI 3.0 nullable, at any depth', () => {
    const schema = {
      a: { type: ['string', 'null'], 'x-nestjs_zod-empty-type': true },
      b: { type: 'object', properties: { c: { type: ['integer', 'null'], minimum: 0 } } },
      d: { type: 'array', items: { type: 'string' } },
      e: { type: ['string', 'number'] },
    };
    nullableFor30(schema);
    expect(schema).toEqual({
      a: { type: 'string', nullable: true },
      b: { type: 'object', properties: { c: { type: 'integer', minimum: 0, nullable: true } } },
      d: { type: 'array', items: { type: 'string' } },
      e: { type: ['string', 'number'] },
    });
  });

  it('applies to a DTO and to its Output, which keeps the name the document uses', () => {
    class ThingDto extends createZodDto(z.object({ name: z.string().nullable(), tags: z.array(z.string()) })) {}
    type Documented = { _OPENAPI_METADATA_FACTORY(): Record<string, { type: unknown; nullable?: boolean }>; name: string };
    const input = (ThingDto as unknown as Documented)._OPENAPI_METADATA_FACTORY();
    const Output = (ThingDto as unknown as { Output: Documented }).Output;
    const output = Output._OPENAPI_METADATA_FACTORY();
    for (const metadata of [input, output]) expect(metadata.name).toMatchObject({ type: 'string', nullable: true });
    expect(output.tags.type).toBe('array');
    expect(Output.name).toBe('ThingDto_Output');
  });
});
