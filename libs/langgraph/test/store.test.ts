import { createHash } from 'node:crypto';
import { Embeddings } from '@langchain/core/embeddings';
import { InMemoryStore, type BaseStore, type Item } from '@langchain/langgraph-checkpoint';
import { inject } from 'vitest';
import { AgentHubStore } from '../src';
import { newOrganizationKey } from './support';

/** Deterministic embeddings: a bag of hashed words in 64 dimensions (texts sharing words are near). */
class WordEmbeddings extends Embeddings {
  constructor() {
    super({});
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.vector(t));
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.vector(text);
  }
  private vector(text: string): number[] {
    const v = new Array<number>(64).fill(0);
    for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) v[createHash('sha256').update(w).digest()[0] % 64] += 1;
    return v;
  }
}

const index = { dims: 64, embeddings: new WordEmbeddings(), fields: ['text', 'tags[*]'] };
const shown = (items: Array<Item & { score?: number }>) =>
  items.map((i) => ({ namespace: i.namespace, key: i.key, value: i.value, ...(i.score !== undefined ? { score: Number(i.score.toFixed(4)) } : {}) }));

/**
 * Store behaviour case by case on LangGraph's InMemoryStore and on AgentHubStore (a fresh organization each), so
 * any difference fails as a pair: what each case returns must be equal.
 */
const cases: Array<[string, (store: BaseStore) => Promise<unknown>]> = [
  [
    'put, get, update and delete an item; unknown keys read as null',
    async (s) => {
      await s.put(['users', 'u1'], 'prefs', { theme: 'dark', n: 1 });
      // Copied: InMemoryStore hands out its own item, which a later put changes in place.
      const first = structuredClone(await s.get(['users', 'u1'], 'prefs'));
      await s.put(['users', 'u1'], 'prefs', { theme: 'light', nested: { a: [1, 'x', null] } });
      const second = structuredClone(await s.get(['users', 'u1'], 'prefs'));
      await s.delete(['users', 'u1'], 'prefs');
      return {
        first: first && { namespace: first.namespace, key: first.key, value: first.value },
        second: second && { namespace: second.namespace, key: second.key, value: second.value },
        updatedNotBefore: second!.updatedAt.getTime() >= first!.updatedAt.getTime(),
        createdKept: second!.createdAt.getTime() === first!.createdAt.getTime(),
        deleted: await s.get(['users', 'u1'], 'prefs'),
        unknown: await s.get(['nobody'], 'nothing'),
      };
    },
  ],
  [
    'searches a namespace prefix with filters, in insertion order, with limit and offset',
    async (s) => {
      await s.put(['users', 'u1', 'facts'], 'a', { lang: 'nl', age: 31, tier: 'gold' });
      await s.put(['docs'], 'd', { lang: 'nl', age: 5 });
      await s.put(['users', 'u2', 'facts'], 'b', { lang: 'en', age: 25, tier: 'silver' });
      await s.put(['users', 'u1', 'facts'], 'c', { lang: 'en', age: '40', tier: 'gold' });
      await s.put(['users', 'u1x'], 'e', { lang: 'nl' });
      const keys = async (prefix: string[], options: Parameters<BaseStore['search']>[1] = {}) => (await s.search(prefix, options)).map((i) => i.key);
      return {
        all: await keys([]),
        users: await keys(['users']),
        u1: await keys(['users', 'u1']),
        nl: await keys(['users'], { filter: { lang: 'nl' } }),
        gt: await keys([], { filter: { age: { $gt: 26 } } }),
        range: await keys([], { filter: { age: { $gte: 25, $lt: 40 } } }),
        inList: await keys([], { filter: { tier: { $in: ['gold', 'bronze'] } } }),
        notIn: await keys([], { filter: { tier: { $nin: ['gold'] } } }),
        ne: await keys(['users'], { filter: { lang: { $ne: 'nl' } } }),
        both: await keys([], { filter: { lang: 'en', tier: 'gold' } }),
        page: await keys([], { limit: 2, offset: 1 }),
        beyond: await keys([], { offset: 10 }),
        items: shown(await s.search(['users', 'u2'])),
      };
    },
  ],
  [
    'ranks by similarity of the indexed fields to a query, and leaves out what index: false or a filter excludes',
    async (s) => {
      await s.put(['notes'], 'n1', { text: 'the cat sat on the mat', tags: ['pets'] });
      await s.put(['notes'], 'n2', { text: 'quarterly revenue grew', tags: ['finance', 'report'] });
      await s.put(['notes'], 'n3', { text: 'a cat and a dog', tags: ['pets', 'dog'] });
      await s.put(['notes'], 'n4', { text: 'cat cat cat' }, false);
      await s.put(['other'], 'o1', { text: 'cat' });
      return {
        cat: shown(await s.search(['notes'], { query: 'cat mat', limit: 3 })),
        finance: shown(await s.search(['notes'], { query: 'finance report', limit: 1 })),
        filtered: shown(await s.search([], { query: 'dog', filter: { text: 'a cat and a dog' } })),
      };
    },
  ],
  [
    'lists namespaces by prefix and suffix (with wildcards), cut to a depth, paged',
    async (s) => {
      for (const ns of [['alpha', 'one', 'x'], ['alpha', 'two', 'x'], ['beta', 'one'], ['gamma', 'two', 'y', 'z']]) await s.put(ns, 'k', { v: 1 });
      return {
        all: await s.listNamespaces(),
        alpha: await s.listNamespaces({ prefix: ['alpha'] }),
        wildcard: await s.listNamespaces({ prefix: ['*', 'one'] }),
        suffix: await s.listNamespaces({ suffix: ['x'] }),
        both: await s.listNamespaces({ prefix: ['alpha'], suffix: ['*'] }),
        depth: await s.listNamespaces({ maxDepth: 1 }),
        depth2: await s.listNamespaces({ prefix: ['gamma'], maxDepth: 2 }),
        paged: await s.listNamespaces({ limit: 2, offset: 1 }),
      };
    },
  ],
  [
    'a batch reads the store as it was before it and applies its puts after, the last put of an item winning',
    async (s) => {
      await s.put(['b'], 'k', { v: 'before' });
      await s.put(['b'], 'other', { v: 'other' });
      const results = await s.batch([
        { namespace: ['b'], key: 'k', value: { v: 'first' } },
        { namespace: ['b'], key: 'other' },
        { namespace: ['b'], key: 'k', value: { v: 'second' } },
        { namespacePrefix: ['b'], limit: 10, offset: 0 },
        { namespace: ['b'], key: 'new', value: { v: 'new' } },
      ]);
      return {
        results: results.map((r) => (Array.isArray(r) ? shown(r as Item[]) : r && typeof r === 'object' ? { value: (r as Item).value } : r)),
        after: shown(await s.search(['b'])),
      };
    },
  ],
];

describe('AgentHubStore behaves as LangGraph’s InMemoryStore', () => {
  it.each(cases)('%s', async (_name, run) => {
    const reference = await run(new InMemoryStore({ index }));
    const stored = await run(new AgentHubStore({ baseUrl: inject('agenthub').baseUrl, apiKey: await newOrganizationKey('store') }, { index }));
    expect(stored).toEqual(reference);
  });

  it('refuses the namespaces LangGraph refuses', async () => {
    const store = new AgentHubStore({ baseUrl: inject('agenthub').baseUrl, apiKey: await newOrganizationKey('store') });
    const memory = new InMemoryStore();
    for (const bad of [[], ['a.b'], ['a', ''], ['x:y']]) {
      await expect(memory.put(bad, 'k', { v: 1 })).rejects.toThrow();
      await expect(store.put(bad, 'k', { v: 1 })).rejects.toThrow();
    }
  });

  it('lets items expire after their TTL (minutes), and keeps them apart per organization', async () => {
    const { baseUrl } = inject('agenthub');
    const store = new AgentHubStore({ baseUrl, apiKey: await newOrganizationKey('ttl') }, { ttl: { defaultTtl: 60 } });
    await store.put(['t'], 'short', { v: 1 }, { ttl: 0.0001 });
    await store.put(['t'], 'long', { v: 2 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await store.get(['t'], 'short')).toBeNull();
    expect((await store.get(['t'], 'long'))?.value).toEqual({ v: 2 });
    expect((await store.search(['t'])).map((i) => i.key)).toEqual(['long']);
    const other = new AgentHubStore({ baseUrl, apiKey: await newOrganizationKey('ttl-other') });
    expect(await other.get(['t'], 'long')).toBeNull();
    expect(await other.listNamespaces()).toEqual([]);
  });
});
