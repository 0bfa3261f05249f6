import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Prisma } from '../generated/prisma/client';

/**
 * One transaction on a plain pg connection (PrismaService.rawTransaction), sent in as few round trips as the
 * protocol allows. On this 2-core machine a socket write or read costs as much CPU as the work of a small
 * statement (profile of the API under the append load: ~35 % of its CPU in `writev`/`write` of pg and Fastify),
 * and node-postgres sends each query only after the previous one has answered, so:
 *
 * - BEGIN and the tenant settings are not sent on their own: they go out in front of the transaction's first
 *   statement, as one simple-query message (`BEGIN; SET LOCAL …; EXECUTE …`).
 * - That first statement runs as a server-side prepared statement (SQL `PREPARE`/`EXECUTE`, the simple-query
 *   protocol's counterpart of a named statement: parsed and planned once per connection) with its values written
 *   in as literals. Its parameter types come from the casts every placeholder carries (`$1::uuid`); a statement
 *   with an uncast placeholder is sent with its values written in instead (planned each time).
 * - Statements deferred until commit (plain INSERTs whose results nobody reads: live events, audit entries) go
 *   out in front of COMMIT, in one message, as EXECUTEs of statements prepared the same way.
 *
 * A transaction whose last write is its first statement (a one-message append, a payment) is then one round
 * trip, like a raw INSERT (`query` with `commit`); otherwise two (statement, commit). Later statements of the
 * same transaction go the ordinary way (extended protocol, named when `prepare`).
 *
 * The embedded database serves every connection from one backend, where one connection's prepared statement
 * name collides with another's: there, `prepare` is ignored and statements are written out in full.
 */
export class RawSession {
  private pending: string | null;
  /** statements to send with COMMIT, in order */
  private readonly deferred: string[] = [];
  /** the SQL PREPAREs the deferred EXECUTEs need on this connection, by statement name */
  private readonly deferredPrepares = new Map<string, string>();
  /** every statement name the deferred EXECUTEs use */
  private readonly deferredNames = new Set<string>();
  /** read-only: a statement of the batch failed, so the connection sits in an aborted transaction */
  private aborted = false;
  /**
   * A statement went out with `commit` and committed: the caller's work is durable, so the transaction must not be
   * run again (rawTransaction does not retry it), and nothing may be deferred to a commit that is no longer its.
   */
  committedEarly = false;

  /**
   * `readOnly`: every statement goes out as its own `BEGIN READ ONLY; <tenant settings>; <statement>; COMMIT`, one
   * round trip, nothing left to commit. That changes nothing a reader can see at READ COMMITTED, where each
   * statement takes its own snapshot anyway; the tenant settings are entered for each one.
   */
  constructor(
    readonly client: pg.PoolClient,
    private readonly begin: string,
    private readonly serverPrepared: boolean,
    private readonly readOnly = false,
  ) {
    this.pending = begin;
  }

  /**
   * `commit`: the statement goes out with the deferred statements and COMMIT, in one message (behind BEGIN when that
   * is still pending: one round trip for a whole transaction). It ends the transaction; a later statement begins a
   * new one (BEGIN and the tenant settings again), and `commit()` then has nothing left to send.
   */
  async query(sql: { text: string; values: unknown[] }, prepare = false, options: { commit?: boolean } = {}): Promise<pg.QueryResult> {
    if (options.commit && !this.readOnly) return this.last(sql, prepare);
    if (this.readOnly) {
      this.pending = this.begin;
      try {
        return await this.first(sql, prepare, 'COMMIT');
      } catch (error) {
        this.aborted = true;
        throw error;
      }
    }
    if (this.pending === null) {
      return this.client.query(prepare && this.serverPrepared ? { name: protocolName(sql.text), text: sql.text, values: sql.values } : sql);
    }
    return this.first(sql, prepare);
  }

  /** `query` with `commit`: the statement, the deferred statements and COMMIT, behind BEGIN if it is pending. */
  private async last(sql: { text: string; values: unknown[] }, prepare: boolean): Promise<pg.QueryResult> {
    const tail = [...this.deferredPrepares.values(), ...this.deferred, 'COMMIT'];
    const prepares = [...this.deferredPrepares.keys()];
    const names = [...this.deferredNames];
    this.deferred.length = 0;
    this.deferredPrepares.clear();
    this.deferredNames.clear();
    const known = preparedOn(this.client);
    let result: pg.QueryResult;
    try {
      result = await this.first(sql, prepare, tail.join(';\n'), tail.length);
    } catch (error) {
      // As in commit(); the transaction stays open (aborted) for rollback(), unless it never began.
      if (sqlState(error) === '26000') for (const name of names) known.delete(name);
      else for (const name of prepares) known.add(name);
      throw error;
    }
    for (const name of prepares) known.add(name);
    // Committed: the next statement begins a new transaction.
    this.pending = this.begin;
    this.committedEarly = true;
    return result;
  }

  /**
   * The statement behind the pending BEGIN, if any (and before `tail`, of `tailCount` statements), prepared on the
   * server when it can be.
   */
  private async first(sql: { text: string; values: unknown[] }, prepare: boolean, tail?: string, tailCount = 1): Promise<pg.QueryResult> {
    const prefix = this.pending;
    this.pending = null;
    const shape = prepare && this.serverPrepared ? statementShape(sql.text) : null;
    const known = preparedOn(this.client);
    let statement: string;
    if (!shape) statement = inlineSql(sql);
    else {
      const execute = executeSql(shape, sql.values);
      statement = known.has(shape.name) ? execute : `${prepareSql(shape, sql.text)};\n${execute}`;
    }
    let results: pg.QueryResult | pg.QueryResult[];
    try {
      results = (await this.client.query(`${prefix === null ? '' : `${prefix};\n`}${statement}${tail ? `;\n${tail}` : ''}`)) as unknown as
        | pg.QueryResult
        | pg.QueryResult[];
    } catch (error) {
      // A PREPARE that ran before the error stays (prepared statements are not transactional); one that did not,
      // or a statement gone with a reset connection, is repaired by the transaction's retry (isStalePrepared).
      if (shape && isStalePrepared(error)) {
        if (sqlState(error) === '42P05') known.add(shape.name);
        else known.delete(shape.name);
      }
      throw error;
    }
    if (shape) known.add(shape.name);
    if (!Array.isArray(results)) return results;
    return results[results.length - (tail ? tailCount + 1 : 1)];
  }

  /**
   * Queues a statement whose result nobody reads, to go out with COMMIT. With `prepare` (and every placeholder
   * cast), it runs as `EXECUTE` of a statement prepared on this connection, the PREPARE sent in the same message
   * the first time: parsed and planned once per connection instead of once per transaction.
   */
  defer(sql: { text: string; values: unknown[] }, prepare = false): void {
    if (this.readOnly) throw new Error('a read-only transaction has nothing to defer');
    if (this.committedEarly) throw new Error('the transaction committed with its last write; nothing can be deferred to it');
    const shape = prepare && this.serverPrepared ? statementShape(sql.text) : null;
    if (!shape) {
      this.deferred.push(inlineSql(sql));
      return;
    }
    if (!preparedOn(this.client).has(shape.name)) this.deferredPrepares.set(shape.name, prepareSql(shape, sql.text));
    this.deferredNames.add(shape.name);
    this.deferred.push(executeSql(shape, sql.values));
  }

  /** Sends the deferred statements and COMMIT, in one message; nothing at all if the transaction did nothing. */
  async commit(): Promise<void> {
    if (this.readOnly) return;
    const tail = [...this.deferredPrepares.values(), ...this.deferred, 'COMMIT'].join(';\n');
    const message = this.pending === null ? tail : this.deferred.length > 0 ? `${this.pending};\n${tail}` : null;
    this.pending = null;
    if (message === null) return;
    const known = preparedOn(this.client);
    try {
      await this.client.query(message);
    } catch (error) {
      // 26000: an EXECUTE found no statement (the server lost it): forget them all, the retry prepares them
      // again. Otherwise the PREPAREs, sent first, ran — except, after 42P05 (one existed already), the ones
      // behind it, which their next EXECUTE finds (26000) and a retry repairs.
      if (sqlState(error) === '26000') for (const name of this.deferredNames) known.delete(name);
      else for (const name of this.deferredPrepares.keys()) known.add(name);
      throw error;
    }
    for (const name of this.deferredPrepares.keys()) known.add(name);
  }

  /** Rolls back what was sent (nothing when BEGIN never left). */
  async rollback(): Promise<void> {
    if (this.readOnly ? this.aborted : this.pending === null) await this.client.query('ROLLBACK');
    this.pending = null;
    this.aborted = false;
  }
}

/** A connection's SQL prepared statements (kept on the pooled client, which lives as long as its session). */
const PREPARED = Symbol('agenthub prepared statements');
function preparedOn(client: pg.PoolClient): Set<string> {
  const holder = client as unknown as { [PREPARED]?: Set<string> };
  return (holder[PREPARED] ??= new Set());
}

/** 26000: prepared statement does not exist; 42P05: it already exists. Both retried by rawTransaction. */
export function isStalePrepared(error: unknown): boolean {
  const state = sqlState(error);
  return state === '26000' || state === '42P05';
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Name for pg's protocol-level named statements (queryRows' `prepare` outside the first statement). */
export function protocolName(text: string): string {
  return `ah_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
}

/** A statement's SQL PREPARE name and the parameter types its placeholders' casts give. */
type StatementShape = { name: string; types: string[] };

const shapes = new Map<string, StatementShape | null>();
/** The SQL PREPARE name and parameter types of a statement, from the cast after each placeholder; null if any lacks one. */
function statementShape(text: string): StatementShape | null {
  let shape = shapes.get(text);
  if (shape !== undefined) return shape;
  const types: string[] = [];
  for (const m of text.matchAll(/\$(\d+)(::([a-z_][a-z0-9_]*(?:\[\])?))?/gi)) {
    const n = Number(m[1]) - 1;
    if (m[3] && types[n] === undefined) types[n] = m[3];
  }
  const count = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  shape = types.length === count && types.every((t) => t !== undefined) ? { name: `ahx_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`, types } : null;
  shapes.set(text, shape);
  return shape;
}

/** SQL `PREPARE` of a statement under its shape's name and parameter types. */
function prepareSql(shape: StatementShape, text: string): string {
  return `PREPARE ${shape.name}(${shape.types.join(', ')}) AS ${text}`;
}

/** SQL `EXECUTE` of a prepared statement with its values written in as literals. */
function executeSql(shape: StatementShape, values: unknown[]): string {
  return `EXECUTE ${shape.name}(${values.map(literal).join(', ')})`;
}

/**
 * A value as a SQL literal: exactly the text pg would send as a bind parameter (`pg.utils.prepareValue`: arrays as
 * array literals, dates, JSON), quoted by `pg.escapeLiteral`.
 */
function literal(value: unknown): string {
  const text = prepareValue(value);
  if (text === null || text === undefined) return 'NULL';
  if (typeof text !== 'string') throw new Error('inlineSql: binary values cannot be written as literals');
  return escapeLiteral(text);
}

/**
 * `pg.escapeLiteral`'s output (quotes doubled; with a backslash, an E'' string with backslashes doubled), by two
 * native regex replacements instead of its loop over every character: the JSON of live events and audit entries
 * made that loop ~3 % of the API's CPU under the append load (perf).
 */
export function escapeLiteral(text: string): string {
  const quoted = text.replace(/'/g, "''");
  return text.includes('\\') ? ` E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}
// Exported by pg (`require('pg').utils`) but not declared by @types/pg.
const prepareValue = (pg as unknown as { utils: { prepareValue(value: unknown): string | Buffer | null | undefined } }).utils.prepareValue;

/**
 * The statement with its bind values written in as literals, for the simple-query protocol (which takes no
 * parameters). Hand-written because no library turns a `$n` statement into a literal one; it refuses text with any
 * other `$` (dollar quoting, a `$` in a string literal), where replacing placeholders would be ambiguous.
 */
export function inlineSql(sql: Prisma.Sql | { text: string; values: unknown[] }): string {
  const values = sql.values as unknown[];
  if (/\$(?!\d)/.test(sql.text)) throw new Error('inlineSql: the statement has a "$" that is not a placeholder');
  return sql.text.replace(/\$(\d+)/g, (_, n: string) => literal(values[Number(n) - 1]));
}
