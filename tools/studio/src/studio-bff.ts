import type { Executor, Query } from '@prisma/studio-core/data';
import { serializeError } from '@prisma/studio-core/data/bff';

/**
 * The server side of studio-core's "BFF" contract (its README, "BFF Contract"): the page posts one procedure, the
 * server runs it on the database and answers `[error, result]` with the error serialized. What the page may run
 * is any SQL, as the connected role: Studio is an administrator's tool, and the server that hosts this refuses
 * requests from other sites (studio.server.ts).
 */
export interface BffReply {
  status: number;
  body: unknown;
}

export type StudioExecutor = Required<Pick<Executor, 'execute' | 'executeTransaction' | 'lintSql'>>;

// Statements run with a search path, which the executor sets in a transaction of their own (BEGIN, set_config,
// statement, COMMIT). Studio names a schema for some of its statements; defaulting the others to `public`
// (AgentHub's only schema) gives every statement that transaction. A workaround for electric-sql/pglite#1046 on
// the embedded database: its socket server shares one backend among all connections and holds it for one only
// inside a transaction, so a lone extended-protocol statement could interleave with another connection's (an
// API's) and lose its unnamed prepared statement.
const DEFAULT_SCHEMA = 'public';

export async function handleBffRequest(executor: StudioExecutor, payload: unknown): Promise<BffReply> {
  if (!isRecord(payload) || typeof payload['procedure'] !== 'string') return invalid('no procedure');
  const schema = typeof payload['schema'] === 'string' && payload['schema'] ? payload['schema'] : DEFAULT_SCHEMA;
  switch (payload['procedure']) {
    case 'query': {
      const query = payload['query'];
      if (!isQuery(query)) return invalid('query: { sql, parameters } expected');
      const [error, rows] = await executor.execute(query, { schema });
      return ok(error ? [serializeError(error)] : [null, rows]);
    }
    case 'sequence': {
      const sequence = payload['sequence'];
      if (!Array.isArray(sequence) || sequence.length !== 2 || !sequence.every(isQuery)) {
        return invalid('sequence: two queries expected');
      }
      const [firstError, first] = await executor.execute(sequence[0], { schema });
      if (firstError) return ok([[serializeError(firstError)]]);
      const [secondError, second] = await executor.execute(sequence[1], { schema });
      return ok([[null, first], secondError ? [serializeError(secondError)] : [null, second]]);
    }
    case 'transaction': {
      const queries = payload['queries'];
      if (!Array.isArray(queries) || !queries.every(isQuery)) return invalid('queries: a list of queries expected');
      const [error, results] = await executor.executeTransaction(queries);
      return ok(error ? [serializeError(error)] : [null, results]);
    }
    case 'sql-lint': {
      if (typeof payload['sql'] !== 'string') return invalid('sql: a string expected');
      const schemaVersion = typeof payload['schemaVersion'] === 'string' ? payload['schemaVersion'] : undefined;
      const [error, result] = await executor.lintSql({ sql: payload['sql'], schema, schemaVersion });
      return ok(error ? [serializeError(error)] : [null, result]);
    }
    default:
      // query-insights among them: this server observes no application traffic, and the page does not ask.
      return { status: 400, body: { error: `unsupported procedure ${JSON.stringify(payload['procedure'])}` } };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isQuery(value: unknown): value is Query<unknown> {
  return isRecord(value) && typeof value['sql'] === 'string' && Array.isArray(value['parameters']);
}

const ok = (body: unknown): BffReply => ({ status: 200, body });
const invalid = (message: string): BffReply => ({ status: 400, body: { error: message } });
