import { Module } from '@nestjs/common';
import { LangGraphController } from './langgraph.controller';
import { LangGraphService } from './langgraph.service';

@Module({ controllers: [LangGraphController], providers: [LangGraphService] })
export class LangGraphModule {}
