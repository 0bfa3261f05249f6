import { applyDecorators, HttpCode, Post } from '@nestjs/common';
import { MinRole } from '../common/auth/access.decorators';
import { BodyLimit } from '../common/http/body-limit';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { RawReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';

/**
 * `POST <feature>/search` of a vector-searchable feature (memories, documents): a read, though a POST (the query
 * vector is too large for a URL), so 200 and the viewer role; the search body limit; one read-only raw
 * transaction. The route documents its own response (@ZodResponse).
 */
export function VectorSearchRoute(): MethodDecorator {
  return applyDecorators(Post('search'), BodyLimit('search'), RawReadTransaction(), HttpCode(200), MinRole('viewer'), ApiProblems(403, 413, 415));
}
