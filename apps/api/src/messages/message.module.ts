import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { MessageController } from './message.controller';
import { MessageService } from './message.service';

@Module({ imports: [EventsModule], controllers: [MessageController], providers: [MessageService], exports: [MessageService] })
export class MessageModule {}
