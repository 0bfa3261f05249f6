/**
 * The tenant export file (FORMAT.md): gzip'd JSON Lines. Line 1 is the header, then one line per row
 * (`{"t":"<table>","r":<row>}`, tables in the order below), and the last line is the footer with per-table
 * counts and SHA-256 digests. The row text is PostgreSQL's own `to_jsonb(row)::text`, written verbatim, so
 * digests computed on export, on reading and on re-export from the target are comparable byte for byte.
 */
export const TENANT_FORMAT = 'agenthub-tenant';
export const TENANT_FORMAT_VERSION = 1;

export interface TenantTable {
  name: string;
  /** how the organization's rows are found */
  scope: 'id' | 'organization_id';
  /** a total order, so exports of the same data are identical */
  orderBy: string;
}

/** Parents before children: importing in this order satisfies every foreign key. */
export const TENANT_TABLES: readonly TenantTable[] = [
  { name: 'organizations', scope: 'id', orderBy: 'id' },
  { name: 'users', scope: 'organization_id', orderBy: 'id' },
  { name: 'api_keys', scope: 'organization_id', orderBy: 'id' },
  { name: 'agents', scope: 'organization_id', orderBy: 'id' },
  { name: 'conversations', scope: 'organization_id', orderBy: 'id' },
  { name: 'messages', scope: 'organization_id', orderBy: 'id' },
  { name: 'memories', scope: 'organization_id', orderBy: 'id' },
  { name: 'documents', scope: 'organization_id', orderBy: 'id' },
  { name: 'document_chunks', scope: 'organization_id', orderBy: 'id' },
  { name: 'payments', scope: 'organization_id', orderBy: 'id' },
  { name: 'refunds', scope: 'organization_id', orderBy: 'id' },
  { name: 'analytics_events', scope: 'organization_id', orderBy: 'id' },
  { name: 'audit_logs', scope: 'organization_id', orderBy: 'id' },
  { name: 'audit_chain_heads', scope: 'organization_id', orderBy: 'organization_id' },
  { name: 'idempotency_keys', scope: 'organization_id', orderBy: 'scope, key' },
  { name: 'langgraph_threads', scope: 'organization_id', orderBy: 'thread_id' },
  { name: 'langgraph_checkpoints', scope: 'organization_id', orderBy: 'thread_id, checkpoint_ns, checkpoint_id' },
  { name: 'langgraph_checkpoint_blobs', scope: 'organization_id', orderBy: 'thread_id, checkpoint_ns, channel, version' },
  { name: 'langgraph_checkpoint_writes', scope: 'organization_id', orderBy: 'thread_id, checkpoint_ns, checkpoint_id, task_id, idx' },
  { name: 'langgraph_store_items', scope: 'organization_id', orderBy: 'prefix, key' },
  { name: 'langgraph_store_vectors', scope: 'organization_id', orderBy: 'prefix, key, field' },
];

export interface TenantHeader {
  format: typeof TENANT_FORMAT;
  version: number;
  /** the newest migration applied to the exporting database; the importing one must be at the same */
  schemaVersion: string;
  organizationId: string;
  organizationName: string;
  exportedAt: string;
  tables: string[];
}

export interface TableDigest {
  count: number;
  /** sha256 over each row's text followed by "\n", in file order */
  sha256: string;
}

export interface TenantFooter {
  footer: true;
  tables: Record<string, TableDigest>;
  /** sha256 over every line before the footer (header included), each followed by "\n" */
  sha256: string;
}

const ROW_LINE = /^\{"t":"([a-z_]+)","r":(\{.*\})\}$/s;

export function rowLine(table: string, rowText: string): string {
  return `{"t":"${table}","r":${rowText}}`;
}

/** The table and the verbatim row text of a row line, or null when the line is not one. */
export function parseRowLine(line: string): { table: string; row: string } | null {
  const m = ROW_LINE.exec(line);
  return m ? { table: m[1], row: m[2] } : null;
}
