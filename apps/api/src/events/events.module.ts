import { Module } from '@nestjs/common';
import { ConversationEventsController } from './conversation-events.controller';
import { ConversationEventsService } from './conversation-events.service';

@Module({
  controllers: [ConversationEventsController],
  providers: [ConversationEventsService],
  exports: [ConversationEventsService],
})
export class EventsModule {}
