import { NotFoundError, type MessageRepository, type MessageRow } from '@agenthub/db';
import type { AuditService } from '../common/audit/audit.service';
import type { RequestContext } from '../common/tenancy/request-context';
import type { ConversationEventRecorder } from '../events/conversation-event-recorder';
import { toMessageView } from './message.dto';
import { MessageService } from './message.service';

const ORG = '00000000-0000-4000-8000-000000000001';
const CONVERSATION = '00000000-0000-4000-8000-000000000002';
const TX = { tx: 'the request transaction' };

function row(seq: number, overrides: Partial<MessageRow> = {}): MessageRow {
  return {
    id: `00000000-0000-4000-8000-1000000000${String(seq).padStart(2, '0')}`,
    organizationId: ORG,
    conversationId: CONVERSATION,
    seq,
    role: 'user',
    content: `message ${seq}`,
    messageType: 'text',
    toolName: null,
    toolArgs: null,
    toolCallId: null,
    isStreaming: false,
    isComplete: true,
    model: null,
    tokensUsed: null,
    clientId: null,
    metadata: {},
    createdAt: '2026-11-30T12:00:00.000Z',
    updatedAt: '2026-11-30T12:00:00.000Z',
    ...overrides,
  } as MessageRow;
}

/** The service over stubbed collaborators: the repository answers with `outcome`, the rest records its calls. */
function setup(outcome: Partial<Awaited<ReturnType<MessageRepository['appendWithOutcome']>>> = {}, lastWriteMayCommit = true) {
  const messages = {
    appendWithOutcome: jest.fn(async () => ({ messages: [], inserted: [], lastEventSeq: null, audit: null, ...outcome })),
    listPage: jest.fn(async () => null),
    findById: jest.fn(async () => null),
    appendChunk: jest.fn(async () => row(1, { isStreaming: true, isComplete: false, content: 'Hi' })),
  };
  const events = { recorded: jest.fn(), record: jest.fn(async () => undefined) };
  const audit = {
    record: jest.fn(async () => undefined),
    entry: jest.fn((action: string, entityType: string, entityId: string, change: unknown) => ({ action, entityType, entityId, change, mac: 'm' })),
    witness: jest.fn(),
  };
  const context = { organizationId: ORG, db: TX, lastWriteMayCommit } as unknown as RequestContext;
  const sut = new MessageService(messages as unknown as MessageRepository, events as unknown as ConversationEventRecorder, context, audit as unknown as AuditService);
  return { sut, messages, events, audit };
}

type AppendOptions = NonNullable<Parameters<MessageRepository['appendWithOutcome']>[4]>;

describe('MessageService', () => {
  describe('append', () => {
    it("appends in the request's transaction, with the message.created events, the audit entry's builder and commit when nothing follows", async () => {
      // commit only for the request's last write (the caller says so) when no interceptor writes after the handler
      for (const [lastWrite, mayCommit, commit] of [
        [true, true, true],
        [true, false, false],
        [undefined, true, false],
      ] as const) {
        const { sut, messages } = setup({}, mayCommit);
        const inputs = [{ role: 'user' as const, content: 'hi' }];
        await sut.append(CONVERSATION, inputs, { lastWrite });
        expect(messages.appendWithOutcome).toHaveBeenCalledWith(ORG, CONVERSATION, inputs, TX, {
          recordCreatedEvents: true,
          audit: expect.any(Function),
          commit,
        });
      }
    });

    it('builds one message.append entry listing the new messages by id and role', async () => {
      const { sut, messages, audit } = setup();
      await sut.append(CONVERSATION, [{ role: 'user', content: 'x' }]);
      const options = (messages.appendWithOutcome.mock.calls[0] as unknown[])[4] as AppendOptions;
      const created = [{ id: row(2).id, role: 'assistant' as const }];
      expect(options.audit!(created)).toEqual({ action: 'message.append', entityType: 'conversation', entityId: CONVERSATION, change: { after: { messages: created } }, mac: 'm' });
      expect(audit.entry).toHaveBeenCalledTimes(1);
    });

    it('returns every message as stored, delivers the events up to the last seq, and witnesses the entry inserted', async () => {
      const replayed = row(1, { clientId: 'again' });
      const fresh = [row(2, { role: 'assistant' }), row(3, { role: 'tool' })];
      const entry = { id: 'entry', mac: 'mac' };
      const { sut, events, audit } = setup({ messages: [replayed, ...fresh], inserted: fresh, lastEventSeq: 9, audit: entry as never });
      const views = await sut.append(CONVERSATION, [{ role: 'user', content: 'x', clientId: 'again' }, { role: 'assistant', content: 'y' }, { role: 'tool', content: 'z' }]);
      expect(views).toEqual([replayed, ...fresh].map(toMessageView));
      expect(events.recorded).toHaveBeenCalledWith(CONVERSATION, 9);
      expect(audit.witness).toHaveBeenCalledWith(entry);
      expect(audit.record).not.toHaveBeenCalled();
    });

    it('delivers no event and witnesses nothing when every message was a replay', async () => {
      const replayed = row(1, { clientId: 'again' });
      const { sut, events, audit } = setup({ messages: [replayed], inserted: [], lastEventSeq: null, audit: null });
      expect(await sut.append(CONVERSATION, [{ role: 'user', content: 'x', clientId: 'again' }])).toEqual([toMessageView(replayed)]);
      expect(events.recorded).not.toHaveBeenCalled();
      expect(audit.witness).not.toHaveBeenCalled();
    });

    it('lets a repository error through, having recorded nothing', async () => {
      const { sut, messages, events, audit } = setup();
      messages.appendWithOutcome.mockRejectedValueOnce(new NotFoundError('conversation', CONVERSATION));
      await expect(sut.append(CONVERSATION, [{ role: 'user', content: 'x' }])).rejects.toBeInstanceOf(NotFoundError);
      expect(events.recorded).not.toHaveBeenCalled();
      expect(audit.witness).not.toHaveBeenCalled();
    });
  });

  it('answers a missing conversation or message with NotFoundError', async () => {
    const { sut } = setup();
    await expect(sut.list(CONVERSATION, {})).rejects.toBeInstanceOf(NotFoundError);
    await expect(sut.get('00000000-0000-4000-8000-00000000ffff')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('records a chunk as a message.delta event and an audit entry with its length, never its text', async () => {
    const { sut, events, audit } = setup();
    const view = await sut.appendChunk(row(1).id, 'Hi');
    expect(view).toMatchObject({ content: 'Hi', isStreaming: true });
    expect(events.record).toHaveBeenCalledWith(CONVERSATION, [{ type: 'message.delta', payload: { messageId: row(1).id, seq: 1, delta: 'Hi' } }]);
    expect(audit.record).toHaveBeenCalledWith('message.chunk', 'message', row(1).id, { after: { conversationId: CONVERSATION, seq: 1, deltaLength: 2 } });
  });
});
