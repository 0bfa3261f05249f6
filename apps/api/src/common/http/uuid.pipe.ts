import { Injectable, PipeTransform, type ArgumentMetadata } from '@nestjs/common';
import { isUuid } from '@agenthub/db';
import { ProblemException } from '../problem/problem.exception';

/** `:id` path parameters: a value that is not a UUID is a 400 naming the parameter, not a lookup. */
@Injectable()
export class UuidPipe implements PipeTransform<string, string> {
  transform(value: string, metadata: ArgumentMetadata): string {
    if (isUuid(value)) return value.toLowerCase();
    const name = metadata.data ?? 'id';
    throw new ProblemException(400, `${name} must be a UUID`, { errors: [{ path: `params.${name}`, message: 'must be a UUID' }] });
  }
}
