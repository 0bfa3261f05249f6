import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Annotation, END, START, StateGraph, type StateSnapshot } from '@langchain/langgraph';
import { inject } from 'vitest';
import { REPO_ROOT } from '@agenthub/client/testing';
import { AgentHubSaver } from '../src';
import { HumanMessage, reviewGraph } from './graph';
import { newOrganizationKey } from './support';

describe('a LangGraph graph on AgentHub', () => {
  it('runs until its interrupt, and a second process resumes it from AgentHub', async () => {
    const { baseUrl } = inject('agenthub');
    const apiKey = await newOrganizationKey('graph');
    const saver = new AgentHubSaver({ baseUrl, apiKey });
    const graph = reviewGraph(saver);
    const config = { configurable: { thread_id: 'ticket-42' } };
    const first = await graph.invoke({ messages: [new HumanMessage('Where is my order?')] }, config);
    expect(first.steps).toEqual(['draft']);
    const paused = await graph.getState(config);
    expect(paused.next).toEqual(['review']);
    expect(paused.tasks[0].interrupts[0].value).toEqual({ question: 'send this reply?' });

    const child = await promisify(execFile)(
      process.execPath,
      [path.join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'), '--tsconfig', 'libs/langgraph/tsconfig.json', 'libs/langgraph/test/resume-graph.ts', baseUrl, apiKey, 'ticket-42'],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(JSON.parse(child.stdout)).toEqual({
      next: ['review'],
      steps: ['draft', 'review', 'send'],
      approved: true,
      messages: ['Where is my order?', 'draft reply to: Where is my order?', 'sent'],
    });

    // This process sees the finished run, and the history of checkpoints behind it, from AgentHub.
    const done = await graph.getState(config);
    expect(done.next).toEqual([]);
    expect(done.values.steps).toEqual(['draft', 'review', 'send']);
    const history: unknown[] = [];
    for await (const state of graph.getStateHistory(config)) history.push(state);
    expect(history.length).toBeGreaterThanOrEqual(5);
    await saver.deleteThread('ticket-42');
    expect((await graph.getState(config)).values).toEqual({});
  });

  it('keeps the branches of a forked thread apart (time travel: updateState from an earlier checkpoint)', async () => {
    const saver = new AgentHubSaver({ baseUrl: inject('agenthub').baseUrl, apiKey: await newOrganizationKey('fork') });
    const State = Annotation.Root({ value: Annotation<string>({ reducer: (_old, next) => next, default: () => '' }) });
    const graph = new StateGraph(State)
      .addNode('shout', (s: typeof State.State) => ({ value: `${s.value}!` }))
      .addEdge(START, 'shout')
      .addEdge('shout', END)
      .compile({ checkpointer: saver });
    const config = { configurable: { thread_id: 'forked' } };
    await graph.invoke({ value: 'a' }, config);
    const original = await graph.getState(config);
    expect(original.values.value).toBe('a!');
    const history: StateSnapshot[] = [];
    for await (const state of graph.getStateHistory(config)) history.push(state);
    const beforeShout = history.find((s) => s.next.includes('shout'))!;
    expect(beforeShout.values.value).toBe('a');
    // The branch writes `value` at the step where the original wrote 'a!': the same count, another value.
    const branch = await graph.updateState(beforeShout.config, { value: 'b' });
    expect((await graph.getState(branch)).values.value).toBe('b');
    expect((await graph.getState(original.config)).values.value).toBe('a!');
  });
});
