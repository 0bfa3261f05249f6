import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { agent } from '@framers/agentos';
import { AgentHubConversationMemory, AgentHubStorageAdapter } from '../src';
import { startFakeLlm } from './fake-llm';
import { apiBaseUrl, newOrganizationKey } from './support';

const REPO_ROOT = path.resolve(__dirname, '../../..');

describe('an AgentOS agent keeping its conversation in AgentHub', () => {
  it('stores each turn; a second process reads the conversation back and continues it with the earlier turns as context', async () => {
    const llm = await startFakeLlm();
    try {
      const baseUrl = apiBaseUrl();
      const apiKey = await newOrganizationKey();
      const memory = new AgentHubConversationMemory({ baseUrl, apiKey }, { conversationId: 'trip-7', userId: 'ada', agentId: 'concierge', title: 'Trip' });
      const bot = agent({ provider: 'openai', model: 'fake-model', apiKey: 'sk-test', baseUrl: llm.baseUrl, instructions: 'Be brief.', memoryProvider: memory });
      const session = bot.session('trip-7');
      expect((await session.send('My name is Ada.')).text).toBe('reply to: My name is Ada.');
      expect((await session.send('I fly to Lisbon on Friday.')).text).toBe('reply to: I fly to Lisbon on Friday.');
      await memory.flush();
      // nothing from AgentHub was added to this process's own requests: the session holds its turns itself
      expect(llm.requests[1].messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
      const stored = await memory.history();
      expect(stored.map((m) => [m.role, m.content])).toEqual([
        ['user', 'My name is Ada.'],
        ['assistant', 'reply to: My name is Ada.'],
        ['user', 'I fly to Lisbon on Friday.'],
        ['assistant', 'reply to: I fly to Lisbon on Friday.'],
      ]);

      const child = await promisify(execFile)(
        process.execPath,
        [
          path.join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'),
          '--tsconfig',
          'libs/agentos/tsconfig.json',
          'libs/agentos/test/second-process.ts',
          baseUrl,
          apiKey,
          llm.baseUrl,
          'trip-7',
          'ada',
          'Where am I flying?',
        ],
        { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 },
      );
      const out = JSON.parse(child.stdout) as { before: unknown[]; reply: string; after: Array<{ role: string; content: string }> };
      expect(out.before).toEqual(stored);
      expect(out.reply).toBe('reply to: Where am I flying?');
      // the second process's model saw the first process's turns, from AgentHub
      const seen = llm.requests[2].messages;
      expect(seen.find((m) => m.role === 'system' && m.content.startsWith('Earlier in this conversation'))?.content).toBe(
        [
          'Earlier in this conversation:',
          'user: My name is Ada.',
          'assistant: reply to: My name is Ada.',
          'user: I fly to Lisbon on Friday.',
          'assistant: reply to: I fly to Lisbon on Friday.',
        ].join('\n'),
      );
      expect(out.after.slice(0, 4)).toEqual(stored);
      expect(out.after.slice(4).map((m) => [m.role, m.content])).toEqual([
        ['user', 'Where am I flying?'],
        ['assistant', 'reply to: Where am I flying?'],
      ]);

      // and it is an AgentHub conversation like any other: the storage adapter of a third reader sees it all
      const reader = new AgentHubStorageAdapter({ baseUrl, apiKey });
      expect(await reader.getConversation('trip-7')).toMatchObject({ id: 'trip-7', userId: 'ada', agentId: 'concierge', title: 'Trip' });
      expect(await reader.getMessageCount('trip-7')).toBe(6);
    } finally {
      await llm.close();
    }
  });
});
