import { Controller, Get, Headers, Param, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError, type ConversationEventRow } from '@agenthub/db';
import type { KeyPrincipal } from '../common/auth/principal';
import { UuidPipe } from '../common/http/uuid.pipe';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { ProblemException } from '../common/problem/problem.exception';
import { NoTransaction } from '../common/tenancy/tenant-transaction.interceptor';
import { ConversationEventFeed } from './conversation-event-feed';

const HEARTBEAT_MS = 15_000;

@ApiTags('conversations')
@Controller('conversations')
export class ConversationEventsController {
  constructor(private readonly events: ConversationEventFeed) {}

  /**
   * Server-Sent Events of one conversation: message.created, message.delta, message.completed, message.deleted,
   * conversation.updated, from whichever replica the change was made on. Each event's `id` is its seq in the
   * conversation; reconnecting with `Last-Event-ID` replays everything after it.
   */
  @Get(':id/events')
  @NoTransaction()
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'resume after this event id (replays what was missed)' })
  @ApiResponse({ status: 200, description: 'text/event-stream; `id:` is the event seq, `event:` the type, `data:` JSON' })
  @ApiProblems(404)
  async stream(
    @Param('id', UuidPipe) conversationId: string,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const principal = request.principal as KeyPrincipal;
    let lastEventId: number | undefined;
    if (lastEventIdHeader !== undefined && lastEventIdHeader !== '') {
      if (!/^\d{1,10}$/.test(lastEventIdHeader)) {
        throw new ProblemException(400, 'Last-Event-ID must be an event id this stream sent', {
          errors: [{ path: 'headers.last-event-id', message: 'expected a non-negative integer' }],
        });
      }
      lastEventId = Number(lastEventIdHeader);
    }
    const raw = reply.raw;
    const write = (chunk: string) => {
      if (!raw.writableEnded) raw.write(chunk);
    };
    const subscription = await this.events.subscribe(principal.organizationId, conversationId, lastEventId, {
      send: (event: ConversationEventRow) =>
        write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event.payload)}\n\n`),
    });
    if (!subscription) throw new NotFoundError('conversation', conversationId);

    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': String(request.id),
    });
    // A comment (ignored by every SSE parser) saying where the stream starts: a client that connected without
    // Last-Event-ID and loses the connection before the first event resumes from there, missing nothing.
    write(`retry: 1000\n: connected to conversation ${conversationId}; events after ${subscription.after} follow\n\n`);
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), HEARTBEAT_MS);
    const close = () => {
      clearInterval(heartbeat);
      subscription.close();
      stopOnShutdown();
      if (!raw.writableEnded) raw.end();
    };
    const stopOnShutdown = this.events.onShutdown(close);
    raw.on('close', close);
  }
}
