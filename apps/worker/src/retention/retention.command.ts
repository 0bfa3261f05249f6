import { Inject } from '@nestjs/common';
import { Command, CommandRunner, Option } from 'nest-commander';
import { CliOutput } from '../cli/cli-output';
import { RetentionService } from './retention.service';

@Command({ name: 'retention', description: 'purge expired memories and conversations deleted longer ago than CONVERSATION_PURGE_AFTER_DAYS' })
export class RetentionCommand extends CommandRunner {
  constructor(@Inject(RetentionService) private readonly retention: RetentionService) {
    super();
  }

  async run(_params: string[], options: { json?: boolean } = {}): Promise<void> {
    const out = new CliOutput(options);
    try {
      const memories = await this.retention.purgeExpiredMemories();
      const conversations = await this.retention.purgeDeletedConversations();
      out.done({ ok: true, memories, conversations }, [`purged ${memories} expired memories, ${conversations} deleted conversations`]);
    } catch (e) {
      out.fail(e);
    }
  }

  @Option({ flags: '--json', description: 'print one JSON object' })
  parseJson(): boolean {
    return true;
  }
}
