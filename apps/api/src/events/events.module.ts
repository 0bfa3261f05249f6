import { Module } from '@nestjs/common';
import { ConversationEventFeed } from './conversation-event-feed';
import { ConversationEventRecorder } from './conversation-event-recorder';
import { ConversationEventsController } from './conversation-events.controller';

/** Live events: the recorder for writers (messages, conversations), the feed behind the SSE route. */
@Module({
  controllers: [ConversationEventsController],
  providers: [ConversationEventRecorder, ConversationEventFeed],
  exports: [ConversationEventRecorder, ConversationEventFeed],
})
export class EventsModule {}
