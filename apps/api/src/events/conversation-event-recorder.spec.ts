import type { ConversationEventRepository } from '@agenthub/db';
import type { RequestContext } from '../common/tenancy/request-context';
import { ConversationEventRecorder } from './conversation-event-recorder';

const ORG = '00000000-0000-4000-8000-000000000001';
const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const TX = { tx: 'the request transaction' };

/** The recorder over a stubbed repository and a request context whose commit the test performs. */
function setup() {
  let nextSeq = 0;
  const announced: Array<Array<{ conversationId: string; seq: number }>> = [];
  const repository = {
    record: jest.fn(async (_org: string, _conversation: string, events: unknown[]) => events.map(() => ++nextSeq)),
    announce: jest.fn(async (batch: Array<{ conversationId: string; seq: number }>) => void announced.push(batch)),
  };
  const afterCommit: Array<() => void> = [];
  const context = { organizationId: ORG, db: TX, afterCommit: (fn: () => void) => afterCommit.push(fn) } as unknown as RequestContext;
  const sut = new ConversationEventRecorder(repository as unknown as ConversationEventRepository, context);
  const commit = () => afterCommit.splice(0).forEach((fn) => fn());
  return { sut, repository, announced, commit };
}

describe(ConversationEventRecorder.name, () => {
  it("records in the request's transaction and tells this replica's feeds only once it has committed", async () => {
    const { sut, repository, commit } = setup();
    const committed: string[] = [];
    sut.onCommitted((id) => committed.push(id));
    await sut.record(A, [{ type: 'conversation.updated', payload: { title: 't' } }]);
    expect(repository.record).toHaveBeenCalledWith(ORG, A, [{ type: 'conversation.updated', payload: { title: 't' } }], TX);
    expect(committed).toEqual([]);
    commit();
    expect(committed).toEqual([A]);
  });

  it('announces to the other replicas after commit, the commits of one moment in one NOTIFY batch at their last seq', async () => {
    const { sut, announced, commit } = setup();
    sut.recorded(A, 7);
    sut.recorded(A, 9);
    sut.recorded(B, 3);
    expect(announced).toEqual([]);
    commit();
    await sut.flushAnnouncements();
    expect(announced).toEqual([[{ conversationId: A, seq: 9 }, { conversationId: B, seq: 3 }]]);
  });

  it('writes nothing for no events, and a listener that unsubscribed hears nothing more', async () => {
    const { sut, repository, commit } = setup();
    await sut.record(A, []);
    expect(repository.record).not.toHaveBeenCalled();
    const heard: string[] = [];
    const stop = sut.onCommitted((id) => heard.push(id));
    stop();
    sut.recorded(B, 1);
    commit();
    expect(heard).toEqual([]);
  });
});
