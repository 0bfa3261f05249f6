import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { MessageModule } from '../messages/message.module';
import { ConversationController } from './conversation.controller';
import { ConversationService } from './conversation.service';

@Module({ imports: [EventsModule, MessageModule], controllers: [ConversationController], providers: [ConversationService] })
export class ConversationModule {}
