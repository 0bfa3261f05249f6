import {
  BaseStore,
  validateNamespace,
  type IndexConfig,
  type Item,
  type ListNamespacesOperation,
  type Operation,
  type OperationResults,
  type PutOperation,
  type SearchItem,
  type SearchOperation,
} from '@langchain/langgraph-checkpoint';
import { clientOf, type AgentHubClient, type AgentHubConnection, type components } from '@agenthub/client';

type ApiOperation = components['schemas']['StoreBatchDto']['operations'][number];
type ApiItem = NonNullable<components['schemas']['StoreBatchResultDto_Output']['results'][number]['items']>[number];

export interface AgentHubStoreOptions {
  /** semantic search: the embedding model and the value fields to embed (default the whole value, `$`) */
  index?: IndexConfig;
  ttl?: {
    /** minutes an item lives when its put names no TTL (default: forever) */
    defaultTtl?: number;
    /** whether reading an item (get, search) restarts its TTL (default true) */
    refreshOnRead?: boolean;
  };
}

/** A put with LangGraph's PostgresStore's TTL (minutes). */
export type AgentHubPutOperation = PutOperation & { ttl?: number | null };

const DEFAULT_LIMIT = 10;

/**
 * LangGraph long-term memory (a `BaseStore`) kept in AgentHub: items under namespace paths, in the organization of
 * the API key, with AgentHub's tenancy, backups, audit and tenant export. A batch is one request and one
 * transaction. As LangGraph's InMemoryStore does, every read of a batch sees the store as it was before the batch
 * and the batch's puts are applied after them, the last put of an item winning. Semantic search: given
 * `index.embeddings`, puts embed the indexed fields (here, in this process) and searches with a `query` rank by
 * cosine similarity in AgentHub (pgvector). TTLs as LangGraph's PostgresStore has them: minutes, refreshed on read.
 */
export class AgentHubStore extends BaseStore {
  readonly client: AgentHubClient;
  private readonly fields: Array<[string, string[]]>;

  constructor(
    connection: AgentHubConnection,
    private readonly options: AgentHubStoreOptions = {},
  ) {
    super();
    this.client = clientOf(connection);
    this.fields = (options.index?.fields ?? ['$']).map((p) => [p, p === '$' ? [p] : tokenizePath(p)]);
  }

  /** put with LangGraph's PostgresStore's options: `index` (fields to embed, or false) and `ttl` (minutes). */
  override async put(namespace: string[], key: string, value: Record<string, unknown>, indexOrOptions?: false | string[] | { index?: false | string[]; ttl?: number | null }): Promise<void> {
    const options = indexOrOptions === false || Array.isArray(indexOrOptions) ? { index: indexOrOptions } : (indexOrOptions ?? {});
    await this.batch([{ namespace, key, value, index: options.index, ttl: options.ttl } as AgentHubPutOperation]);
  }

  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const reads: Array<{ index: number; op: ApiOperation }> = [];
    const puts = new Map<string, AgentHubPutOperation>();
    const searches = new Map<string, number[] | undefined>();
    operations.forEach((op, index) => {
      if ('namespacePrefix' in op) {
        const search = op as SearchOperation;
        if (search.namespacePrefix.length) validateNamespace(search.namespacePrefix, { allowReservedRoot: true });
        if (search.query && this.options.index) searches.set(search.query, undefined);
        reads.push({ index, op: { op: 'search', namespacePrefix: search.namespacePrefix, ...(search.filter ? { filter: search.filter } : {}), limit: search.limit ?? DEFAULT_LIMIT, offset: search.offset ?? 0, refreshTtl: this.refresh } });
      } else if ('value' in op) {
        const put = op as AgentHubPutOperation;
        validateNamespace(put.namespace, { allowReservedRoot: true });
        puts.set(JSON.stringify([put.namespace, put.key]), put);
      } else if ('namespace' in op && 'key' in op) {
        validateNamespace(op.namespace, { allowReservedRoot: true });
        reads.push({ index, op: { op: 'get', namespace: op.namespace, key: op.key, refreshTtl: this.refresh } });
      } else {
        const list = op as ListNamespacesOperation;
        reads.push({ index, op: { op: 'listNamespaces', ...(list.matchConditions?.length ? { matchConditions: list.matchConditions.map((c) => ({ matchType: c.matchType, path: c.path })) } : {}), ...(list.maxDepth !== undefined ? { maxDepth: list.maxDepth } : {}), limit: list.limit ?? 100, offset: list.offset ?? 0 } });
      }
    });
    if (searches.size) {
      const queries = [...searches.keys()];
      const vectors = await Promise.all(queries.map((q) => this.options.index!.embeddings.embedQuery(q)));
      queries.forEach((q, i) => searches.set(q, vectors[i]));
      for (const { index, op } of reads) {
        const query = (operations[index] as SearchOperation).query;
        if (op.op === 'search' && query) op.queryVector = searches.get(query);
      }
    }
    const writes = await this.putOperations([...puts.values()]);
    const apiOps = [...reads.map((r) => r.op), ...writes];
    const results = new Array(operations.length).fill(null) as unknown[];
    if (apiOps.length) {
      const { data } = await this.client.POST('/api/v1/langgraph/store/batch', { body: { operations: apiOps } });
      reads.forEach(({ index, op }, i) => {
        const result = data!.results[i];
        if (op.op === 'get') results[index] = result.item ? toItem(result.item) : null;
        else if (op.op === 'search') results[index] = (result.items ?? []).map(toSearchItem);
        else results[index] = result.namespaces ?? [];
      });
    }
    return results as OperationResults<Op>;
  }

  private get refresh(): boolean {
    return this.options.ttl?.refreshOnRead ?? true;
  }

  /** The puts as the API takes them: the indexed fields' texts embedded (one call for the batch), the TTL resolved. */
  private async putOperations(puts: AgentHubPutOperation[]): Promise<ApiOperation[]> {
    const texts: string[] = [];
    const wanted = puts.map((put) => {
      if (put.value === null || put.index === false || !this.options.index) return [] as Array<[string, number]>;
      const paths: Array<[string, string[]]> = put.index === undefined || put.index === null ? this.fields : put.index.map((p) => [p, tokenizePath(p)]);
      const fields: Array<[string, number]> = [];
      for (const [path, tokens] of paths) {
        const found = path === '$' ? [JSON.stringify(put.value, null, 2)] : textsAt(put.value, tokens, 0);
        found.forEach((text, i) => {
          fields.push([found.length > 1 ? `${path}.${i}` : path, texts.length]);
          texts.push(text);
        });
      }
      return fields;
    });
    const embeddings = texts.length ? await this.options.index!.embeddings.embedDocuments(texts) : [];
    return puts.map((put, i) => ({
      op: 'put' as const,
      namespace: put.namespace,
      key: put.key,
      value: put.value,
      ...(wanted[i].length ? { vectors: wanted[i].map(([field, at]) => ({ field, embedding: embeddings[at] })) } : {}),
      ...(put.value !== null ? { ttlMinutes: put.ttl === undefined ? (this.options.ttl?.defaultTtl ?? null) : put.ttl } : {}),
    }));
  }
}

function toItem(item: ApiItem): Item {
  return { namespace: item.namespace, key: item.key, value: item.value, createdAt: new Date(item.createdAt), updatedAt: new Date(item.updatedAt) };
}

function toSearchItem(item: ApiItem): SearchItem {
  return { ...toItem(item), score: item.score ?? undefined };
}

/**
 * The texts at a tokenized path of a value, as LangGraph's InMemoryStore extracts them for embedding (fields,
 * `[i]` / `[-1]` / `[*]`, `*`, `{a,b}`; scalars as text, objects as indented JSON). Written here because the package
 * exports only the simpler getTextAtPath and tokenizePath of its base module (strings only; no brackets), which
 * read other texts — and a store that embedded other texts than InMemoryStore would rank differently.
 */
function textsAt(value: unknown, tokens: string[], pos: number): string[] {
  const leaf = (v: unknown): string[] =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? [String(v)] : v !== null && typeof v === 'object' ? [JSON.stringify(v, null, 2)] : [];
  if (pos >= tokens.length) return leaf(value);
  const token = tokens[pos];
  const out: string[] = pos === 0 && token === '$' ? [JSON.stringify(value, null, 2)] : [];
  if (token.startsWith('[') && token.endsWith(']')) {
    if (!Array.isArray(value)) return [];
    const index = token.slice(1, -1);
    if (index === '*') for (const item of value) out.push(...textsAt(item, tokens, pos + 1));
    else {
      let i = Number.parseInt(index, 10);
      if (i < 0) i += value.length;
      if (i >= 0 && i < value.length) out.push(...textsAt(value[i], tokens, pos + 1));
    }
  } else if (token.startsWith('{') && token.endsWith('}')) {
    if (value === null || typeof value !== 'object') return [];
    for (const field of token.slice(1, -1).split(',').map((f) => f.trim())) {
      let current: unknown = value;
      for (const part of tokenizePath(field)) current = current !== null && typeof current === 'object' && part in current ? (current as Record<string, unknown>)[part] : undefined;
      if (current !== undefined && tokenizePath(field).length) out.push(...leaf(current));
    }
  } else if (token === '*') {
    const items = Array.isArray(value) ? value : value !== null && typeof value === 'object' ? Object.values(value) : [];
    for (const item of items) out.push(...textsAt(item, tokens, pos + 1));
  } else if (value !== null && typeof value === 'object' && token in value) {
    out.push(...textsAt((value as Record<string, unknown>)[token], tokens, pos + 1));
  }
  return out;
}

/** `a.b[*].{c,d}` → `a`, `b`, `[*]`, `{c,d}` (InMemoryStore's tokenizer; see textsAt). */
function tokenizePath(path: string): string[] {
  const tokens: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; ) {
    const open = path[i];
    if (open === '[' || open === '{') {
      if (current) tokens.push(current);
      current = '';
      const close = open === '[' ? ']' : '}';
      let depth = 0;
      let token = '';
      do {
        if (path[i] === open) depth++;
        else if (path[i] === close) depth--;
        token += path[i++];
      } while (i < path.length && depth > 0);
      tokens.push(token);
      continue;
    }
    if (open === '.') {
      if (current) tokens.push(current);
      current = '';
    } else current += open;
    i++;
  }
  if (current) tokens.push(current);
  return tokens;
}
