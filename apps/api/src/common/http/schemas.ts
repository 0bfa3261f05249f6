import { z } from 'zod';
import { MAX_PAGE_SIZE } from '@agenthub/db';

/** Building blocks of the request/response schemas; the same schemas validate requests and generate OpenAPI. */
export const uuid = z.uuid({ message: 'must be a UUID' });
export const jsonObject = z.record(z.string(), z.unknown()).describe('any JSON object');
export const isoDateTime = z.iso.datetime({ offset: true });

/** `?limit=` of a list or a search: 1..MAX_PAGE_SIZE (API.md: default 50, max 200); `what` is what it counts. */
export const limitQuery = (what: string) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`)
    .optional()
    .describe(`${what}, 1..${MAX_PAGE_SIZE} (default 50)`);

/** `?limit=&cursor=` of every list (API.md: default 50, max 200; cursors opaque). */
export const pageQuery = {
  limit: limitQuery('page size'),
  cursor: z.string().min(1).max(2000).optional().describe('nextCursor of the previous page'),
};

export const booleanQuery = z
  .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1');

export const idParams = z.object({ id: uuid });

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), nextCursor: z.string().nullable() });
}

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    requestId: z.string().optional(),
  })
;
