import { inject } from 'vitest';
import { validate } from '@langchain/langgraph-checkpoint-validation';
import { AgentHubSaver } from '../src';
import { newOrganizationKey } from './support';

// LangGraph's own checkpointer validation suite (@langchain/langgraph-checkpoint-validation), every test with a
// checkpointer on a fresh organization of a real API process.
validate({
  checkpointerName: 'AgentHubSaver',
  async createCheckpointer() {
    return new AgentHubSaver({ baseUrl: inject('agenthub').baseUrl, apiKey: await newOrganizationKey('validation') });
  },
});
