import { Injectable, PipeTransform } from '@nestjs/common';
import { validate } from 'nestjs-zod';
import { messageBatchSchema, messageInputSchema, type AppendMessagesBody } from './message.dto';

/**
 * The append body is one message or `{ messages: [...] }`. Validating against the branch the body is meant to be
 * gives errors that name the field (`messages.3.role`) instead of "matches no alternative of the union".
 */
@Injectable()
export class AppendMessagesPipe implements PipeTransform<unknown, AppendMessagesBody> {
  transform(body: unknown): AppendMessagesBody {
    const batch = typeof body === 'object' && body !== null && 'messages' in body;
    return batch ? validate(body, messageBatchSchema) : validate(body, messageInputSchema);
  }
}
