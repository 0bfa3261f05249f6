import { migrationNames, type BackupRepository, type BackupRow, type DatabaseSnapshot, type JobLockService, type LoadSession, type TableInfo, type WholeDatabase } from '@agenthub/db';

/** Two tables of the shape a backup reads, and their COPY text. */
export const FAKE_TABLES: TableInfo[] = [
  { name: 'organizations', columns: [{ name: 'id', type: 'uuid' }, { name: 'name', type: 'text' }] },
  { name: 'users', columns: [{ name: 'id', type: 'uuid' }, { name: 'name', type: 'text' }] },
];
export const FAKE_ROWS: Record<string, string[]> = {
  organizations: ['00000000-0000-4000-8000-000000000001\tAcme\n'],
  // a row split across two chunks, as COPY sends them
  users: ['00000000-0000-4000-8000-000000000011\tAda\n00000000-0000-4000-8000-0000000000', '12\tGrace\n'],
};

/**
 * An in-memory stand-in for the WholeDatabase port (libs/db): each table is its COPY text in chunks. `snapshot`
 * reads it (a backup's source); `load` empties and refills it in a transaction that `rollback` undoes (a
 * restore's target). `events` records what happened, in order. For unit specs of BackupService and
 * RestoreService; their int-specs use the real port on PostgreSQL and PGlite.
 */
export function fakeWholeDatabase(
  rows: Record<string, string[]> = {},
  options: { tables?: TableInfo[]; failCopyOut?: string; onCopyOut?: (table: string) => void } = {},
) {
  const tables = options.tables ?? FAKE_TABLES;
  let data: Record<string, string[]> = Object.fromEntries(tables.map((t) => [t.name, [...(rows[t.name] ?? [])]]));
  const events: string[] = [];
  const common = {
    migrations: async () => migrationNames(),
    server: async () => ({ version: 'PostgreSQL 15 (fake)', pglite: false }),
    tables: async () => tables,
    async *copyOut(table: { name: string }) {
      options.onCopyOut?.(table.name);
      for (const [i, chunk] of data[table.name].entries()) {
        if (table.name === options.failCopyOut && i > 0) throw new Error(`connection lost while copying ${table.name}`);
        yield Buffer.from(chunk);
      }
    },
    end: async () => void events.push('end'),
  };
  const snapshot = (): DatabaseSnapshot => ({ ...common, commit: async () => void events.push('commit') });
  const load = (): LoadSession => {
    let before: Record<string, string[]> | null = null;
    return {
      ...common,
      tablesWithRows: async (names) => names.filter((n) => (data[n] ?? []).join('').length > 0),
      async beginLoad(names) {
        before = structuredClone(data);
        for (const n of names) data[n] = [];
        events.push('begin');
        return { finish: async () => void events.push('finish') };
      },
      async loader(table) {
        const chunks: string[] = [];
        return {
          write: async (chunk) => void chunks.push(chunk.toString('utf8')),
          end: async () => {
            data[table.name].push(...chunks);
            return chunks.join('').split('\n').length - 1;
          },
          abort: async () => undefined,
        };
      },
      run: async (statement) => void events.push(statement.text.trim().split(/\s+/).slice(0, 2).join(' ')),
      commit: async () => void events.push('commit'),
      rollback: async () => {
        if (before) data = before;
        events.push('rollback');
      },
    };
  };
  const port = {
    url: 'postgresql://fake@localhost/target',
    mode: 'postgres',
    migrate: jest.fn(async () => void events.push('migrate')),
    snapshot: jest.fn(async () => snapshot()),
    load: jest.fn(async () => load()),
  };
  /** The table's rows (COPY text lines). */
  const rowsOf = (table: string) => data[table].join('').split('\n').filter(Boolean);
  return { port: port as unknown as WholeDatabase & typeof port, events, rowsOf };
}

/** BackupRepository's catalog in memory: the rows BackupService creates and marks, by id. */
export function memoryCatalog() {
  const rows = new Map<string, { status: string; error?: string; manifest?: unknown }>();
  const repo = {
    failAbandoned: jest.fn(async () => []),
    createRunning: jest.fn(async (input: { id: string }) => {
      rows.set(input.id, { status: 'running' });
      return { id: input.id, status: 'running', startedAt: new Date() } as unknown as BackupRow;
    }),
    markCompleted: jest.fn(async (id: string, done: { manifest: unknown }) => (rows.set(id, { status: 'completed', manifest: done.manifest }), true)),
    markFailed: jest.fn(async (id: string, error: string) => (rows.set(id, { status: 'failed', error }), true)),
  };
  return { rows, repo: repo as unknown as BackupRepository & typeof repo };
}

/** JobLockService that hands out `lock` (or nobody's lock: `taken`). */
export function fakeLocks(options: { taken?: boolean } = {}) {
  const lock = { held: true, release: jest.fn(async () => undefined) };
  const locks = { tryAcquire: jest.fn(async () => (options.taken ? null : lock)) };
  return { lock, locks: locks as unknown as JobLockService & typeof locks };
}
