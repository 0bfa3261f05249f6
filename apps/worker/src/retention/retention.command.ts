import { Inject } from '@nestjs/common';
import { Command } from 'nest-commander';
import { CliCommand } from '../cli/cli-output';
import { RetentionService } from './retention.service';

@Command({ name: 'retention', description: 'purge expired memories and LangGraph store items, and conversations deleted longer ago than CONVERSATION_PURGE_AFTER_DAYS' })
export class RetentionCommand extends CliCommand {
  constructor(@Inject(RetentionService) private readonly retention: RetentionService) {
    super();
  }

  async run(_params: string[], options: { json?: boolean } = {}): Promise<void> {
    const out = this.output(options);
    try {
      const memories = await this.retention.purgeExpiredMemories();
      const storeItems = await this.retention.purgeExpiredStoreItems();
      const conversations = await this.retention.purgeDeletedConversations();
      const threads = await this.retention.purgeIdleThreads();
      out.done({ ok: true, memories, storeItems, conversations, threads }, [
        `purged ${memories} expired memories, ${storeItems} expired LangGraph store items, ${conversations} deleted conversations, ${threads} idle LangGraph threads`,
      ]);
    } catch (e) {
      out.fail(e);
    }
  }
}

/** `agenthub retention`, for CliModule. */
export const RETENTION_COMMANDS = [RetentionCommand];
