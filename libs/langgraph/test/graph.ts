import { AIMessage, HumanMessage, type BaseMessage } from '@langchain/core/messages';
import { Annotation, END, interrupt, MessagesAnnotation, START, StateGraph, type BaseCheckpointSaver } from '@langchain/langgraph';

/** A stub model: answers from the messages so far, no network. */
function stubModel(messages: BaseMessage[]): AIMessage {
  const last = messages.at(-1);
  return new AIMessage(`draft reply to: ${String(last?.content ?? '')}`);
}

const State = Annotation.Root({
  ...MessagesAnnotation.spec,
  approved: Annotation<boolean | null>({ reducer: (_old, next) => next, default: () => null }),
  steps: Annotation<string[]>({ reducer: (old, next) => [...old, ...next], default: () => [] }),
});

/**
 * draft (the stub model writes a reply) → review (interrupts: a person approves or not) → send or discard. The
 * interrupt ends the first run; a later run — in another process — resumes it from the checkpointer.
 */
export function reviewGraph(checkpointer: BaseCheckpointSaver) {
  return new StateGraph(State)
    .addNode('draft', (s: typeof State.State) => ({ messages: [stubModel(s.messages)], steps: ['draft'] }))
    .addNode('review', () => {
      const decision = interrupt({ question: 'send this reply?' }) as { approve: boolean };
      return { approved: decision.approve, steps: ['review'] };
    })
    .addNode('send', () => ({ messages: [new AIMessage('sent')], steps: ['send'] }))
    .addEdge(START, 'draft')
    .addEdge('draft', 'review')
    .addConditionalEdges('review', (s: typeof State.State) => (s.approved ? 'send' : END))
    .addEdge('send', END)
    .compile({ checkpointer });
}

export { HumanMessage };
