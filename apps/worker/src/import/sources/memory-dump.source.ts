import fs from 'node:fs';
import { canonicalJson, EMBEDDING_DIMENSIONS, isCurrency, minorUnits, Prisma, sha256Hex } from '@agenthub/db';
import type { AgentRecord, Checkpoint, DocumentRecord, EventRecord, ImportBatch, JsonObject, PaymentRecord, RefundRecord, UserRecord } from '../import.types';
import { cleanJson, cleanText, fromEpochSeconds, fromTimeText, nonEmpty } from '../mapping';
import { fileDigest } from './agentos-sqlite.source';
import { addRead, emptyBatch, type ImportSource } from './import-source';

type Dict = Record<string, Record<string, unknown>>;
interface Dump {
  agents?: Dict;
  counters?: Dict;
  payment_intents?: Dict;
  transactions?: Dict;
  analytics_data?: Dict;
  knowledge_base?: Dict;
  embeddings_cache?: Record<string, unknown>;
  documents_store?: Dict;
  faqs_store?: Dict;
}

const SECTIONS = ['payments', 'events', 'documents'] as const;
type Section = (typeof SECTIONS)[number];
const DICTIONARIES = ['agents', 'counters', 'payment_intents', 'transactions', 'analytics_data', 'knowledge_base', 'embeddings_cache', 'documents_store', 'faqs_store'];
const MONEY_LIMIT = new Prisma.Decimal('1e16');

/** Stripe-style intent statuses → ours. Anything not final is pending. */
const STATUS: Record<string, PaymentRecord['status']> = {
  succeeded: 'succeeded',
  canceled: 'failed',
  cancelled: 'failed',
  failed: 'failed',
  requires_payment_method: 'pending',
  requires_confirmation: 'pending',
  requires_action: 'pending',
  requires_capture: 'pending',
  processing: 'pending',
  pending: 'pending',
};

/**
 * Exact money from a legacy float: the shortest decimal that round-trips the double (what the service printed
 * and what its users saw), which must fit the currency's minor digits. 49.99 → "49.99"; 10.005 is reported,
 * never rounded. A string amount is taken as written.
 */
export function exactAmount(value: unknown, currency: string): { amount: string } | { error: string } {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { error: `amount ${value} is not a finite number` };
    text = String(value);
  } else if (typeof value === 'string' && value.trim() !== '') text = value.trim();
  else return { error: 'amount is missing' };
  if (!/^-?\d+(\.\d+)?$/.test(text)) return { error: `amount ${text} is not a plain decimal (exponent or text)` };
  const digits = minorUnits(currency);
  const fraction = text.split('.')[1] ?? '';
  if (fraction.replace(/0+$/, '').length > digits) {
    return { error: `amount ${text} has more than ${digits} decimal place(s) for ${currency}; not rounded` };
  }
  const d = new Prisma.Decimal(text);
  if (d.lte(0)) return { error: `amount ${text} is not positive` };
  if (d.gte(MONEY_LIMIT)) return { error: `amount ${text} is too large for the payments table` };
  return { amount: d.toFixed(digits) };
}

/**
 * A JSON dump of in-memory service dictionaries (IMPORT-FORMATS.md §3). The file is read whole (such dumps are
 * one JSON document). Sections are written in a fixed order, records in key order; the checkpoint is the
 * section and the index of the last record written.
 */
export class MemoryDumpSource implements ImportSource {
  readonly kind = 'memory-dump' as const;
  readonly clientIdPrefix = 'memory-dump:';
  private readonly agentNames = new Map<string, string>();

  private constructor(
    private readonly dump: Dump,
    readonly digest: string,
    private readonly embeddingDimensions: number,
  ) {
    for (const [id, a] of Object.entries(dump.agents ?? {})) {
      if (a && nonEmpty(a['name'])) this.agentNames.set(id, cleanText(a['name'] as string));
    }
  }

  static async open(file: string, embeddingDimensions = EMBEDDING_DIMENSIONS): Promise<MemoryDumpSource> {
    if (!fs.existsSync(file)) throw new Error(`no such file: ${file}`);
    let dump: unknown;
    try {
      dump = JSON.parse(await fs.promises.readFile(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
    }
    if (!dump || typeof dump !== 'object' || Array.isArray(dump)) throw new Error(`${file} is not a dump: expected a JSON object of dictionaries`);
    const keys = Object.keys(dump);
    if (!keys.some((k) => DICTIONARIES.includes(k))) {
      throw new Error(`${file} has none of the dictionaries ${DICTIONARIES.join(', ')}`);
    }
    for (const k of keys) {
      const v = (dump as Record<string, unknown>)[k];
      if (DICTIONARIES.includes(k) && v !== null && (typeof v !== 'object' || Array.isArray(v))) throw new Error(`${file}: "${k}" must be an object keyed by id`);
    }
    return new MemoryDumpSource(dump as Dump, await fileDigest(file), embeddingDimensions);
  }

  private entries(name: keyof Dump): Array<[string, Record<string, unknown>]> {
    return Object.entries((this.dump[name] ?? {}) as Dict).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private sectionEntries(section: Section): Array<[string, Record<string, unknown>, string]> {
    if (section === 'payments') return this.entries('payment_intents').map(([k, v]) => [k, v, 'payment_intents']);
    if (section === 'events') return this.entries('analytics_data').map(([k, v]) => [k, v, 'analytics_data']);
    return (['knowledge_base', 'documents_store', 'faqs_store'] as const).flatMap((d) => this.entries(d).map(([k, v]) => [k, v, d] as [string, Record<string, unknown>, string]));
  }

  async total(): Promise<number> {
    return SECTIONS.reduce((n, s) => n + this.sectionEntries(s).length, 0);
  }

  async refs() {
    const warnings: ImportBatch['warnings'] = [];
    const counters = (this.dump.counters ?? {}) as Dict;
    const byName = new Map<string, AgentRecord>();
    for (const [id, a] of this.entries('agents')) {
      const name = this.agentNames.get(id);
      if (!name) {
        warnings.push({ entity: 'agents', sourceId: id, reason: 'agent has no name; its id is used as the name' });
        this.agentNames.set(id, cleanText(id));
      }
      const finalName = this.agentNames.get(id)!;
      if (byName.has(finalName)) warnings.push({ entity: 'agents', sourceId: id, reason: `another agent is also named "${finalName}"; both map to one agent` });
      const metadata: JsonObject = { importedFrom: { source: this.kind, id } };
      if (a['industry'] !== undefined) metadata['industry'] = cleanJson(a['industry']);
      if (a['status'] !== undefined) metadata['status'] = cleanJson(a['status']);
      if (counters[id]) metadata['counters'] = cleanJson(counters[id]);
      const config = a['configuration'] && typeof a['configuration'] === 'object' && !Array.isArray(a['configuration']) ? (cleanJson(a['configuration']) as JsonObject) : {};
      byName.set(finalName, {
        name: finalName,
        description: typeof a['description'] === 'string' ? cleanText(a['description']) : null,
        config,
        isActive: a['status'] === undefined || a['status'] === 'active',
        metadata,
        createdAt: fromTimeText(a['created_at']),
      });
    }
    for (const id of Object.keys(counters)) {
      if (!this.agentNames.has(id)) warnings.push({ entity: 'counters', sourceId: id, reason: 'counters of an agent that is not in the dump; ignored' });
    }
    const customers = new Set<string>();
    for (const [, p] of this.entries('payment_intents')) if (nonEmpty(p?.['customer'])) customers.add(cleanText(p['customer'] as string));
    const users: UserRecord[] = [...customers].sort().map((externalId) => ({ externalId, name: null, metadata: { importedFrom: { source: this.kind } } }));
    const agents = [...byName.values()];
    return { agents, users, rejections: [], warnings, read: { agents: this.entries('agents').length, users: users.length } };
  }

  async *batches(from: Checkpoint | null, batchSize: number): AsyncIterable<ImportBatch> {
    const startSection = from ? SECTIONS.indexOf(from.section as Section) : 0;
    const refunds = this.refundsByIntent();
    let batch = emptyBatch(from ?? { section: 'payments', after: -1 });
    if (!from) {
      // Transactions pointing at no payment intent are rejected once, with the first batch.
      for (const r of refunds.orphans) {
        addRead(batch, 'transactions');
        batch.rejections.push({ entity: 'transactions', sourceId: r, reason: 'its payment_intent_id is not in payment_intents' });
      }
    }
    for (let s = Math.max(startSection, 0); s < SECTIONS.length; s++) {
      const section = SECTIONS[s];
      const entries = this.sectionEntries(section);
      const after = from && s === startSection && typeof from.after === 'number' ? from.after : -1;
      for (let i = after + 1; i < entries.length; i++) {
        const [id, record, dictionary] = entries[i];
        if (section === 'payments') this.addPayment(batch, id, record, refunds.byIntent.get(id) ?? []);
        else if (section === 'events') this.addEvent(batch, id, record);
        else this.addDocument(batch, id, record, dictionary);
        batch.units++;
        batch.checkpoint = { section, after: i };
        if (batch.units >= batchSize) {
          yield batch;
          batch = emptyBatch(batch.checkpoint);
        }
      }
    }
    if (batch.units || batch.rejections.length || Object.keys(batch.read).length) yield batch;
  }

  private refundsByIntent() {
    const byIntent = new Map<string, Array<[string, Record<string, unknown>]>>();
    const orphans: string[] = [];
    const intents = (this.dump.payment_intents ?? {}) as Dict;
    for (const [id, t] of this.entries('transactions')) {
      const intent = t?.['payment_intent_id'];
      if (typeof intent !== 'string' || !intents[intent]) orphans.push(id);
      else byIntent.set(intent, [...(byIntent.get(intent) ?? []), [id, t]]);
    }
    return { byIntent, orphans };
  }

  private addPayment(batch: ImportBatch, id: string, p: Record<string, unknown>, transactions: Array<[string, Record<string, unknown>]>) {
    addRead(batch, 'payments');
    addRead(batch, 'transactions', transactions.length);
    const reject = (reason: string) => {
      batch.rejections.push({ entity: 'payments', sourceId: id, reason });
      for (const [tid] of transactions) batch.rejections.push({ entity: 'transactions', sourceId: tid, reason: `its payment intent ${id} was rejected` });
    };
    if (!p || typeof p !== 'object') return reject('record is not an object');
    const currency = typeof p['currency'] === 'string' ? p['currency'].toUpperCase() : '';
    if (!isCurrency(currency)) return reject(`currency ${JSON.stringify(p['currency'])} is not an ISO 4217 code`);
    const amount = exactAmount(p['amount'], currency);
    if ('error' in amount) return reject(amount.error);
    const createdAt = fromEpochSeconds(p['created']);
    if (!createdAt) return reject(`created ${JSON.stringify(p['created'])} is not epoch seconds`);
    const sourceStatus = typeof p['status'] === 'string' ? p['status'] : 'pending';
    let status = STATUS[sourceStatus];
    if (!status) {
      batch.warnings.push({ entity: 'payments', sourceId: id, reason: `unknown status ${JSON.stringify(sourceStatus)}; imported as pending` });
      status = 'pending';
    }
    const refunds: RefundRecord[] = [];
    const others: JsonObject[] = [];
    let refunded = new Prisma.Decimal(0);
    for (const [tid, t] of transactions) {
      if (t['type'] !== 'refund') {
        others.push({ id: tid, ...(cleanJson(t) as JsonObject) });
        continue;
      }
      const raw = typeof t['amount'] === 'number' ? Math.abs(t['amount']) : t['amount'];
      const value = exactAmount(raw, currency);
      const at = fromEpochSeconds(t['created']) ?? createdAt;
      if ('error' in value) {
        batch.rejections.push({ entity: 'transactions', sourceId: tid, reason: `refund ${value.error}` });
      } else if (status !== 'succeeded') {
        batch.rejections.push({ entity: 'transactions', sourceId: tid, reason: `refund of a payment that is ${sourceStatus}, not succeeded` });
      } else if (refunded.plus(value.amount).gt(amount.amount)) {
        batch.rejections.push({ entity: 'transactions', sourceId: tid, reason: `refunds would exceed the payment's ${amount.amount} ${currency}` });
      } else {
        refunded = refunded.plus(value.amount);
        refunds.push({ sourceId: tid, amount: value.amount, reason: typeof t['reason'] === 'string' ? cleanText(t['reason']) : null, createdAt: at });
      }
    }
    addRead(batch, 'refunds', refunds.length);
    if (refunds.length) status = refunded.eq(amount.amount) ? 'refunded' : 'partially_refunded';
    const metadata: JsonObject = { importedFrom: { source: this.kind, id, status: sourceStatus } };
    if (p['metadata'] && typeof p['metadata'] === 'object') metadata['legacy'] = cleanJson(p['metadata']);
    if (others.length) metadata['transactions'] = others;
    batch.payments.push({
      sourceId: id,
      userExternalId: nonEmpty(p['customer']) ? cleanText(p['customer'] as string) : null,
      amount: amount.amount,
      currency,
      status,
      refundedAmount: refunded.toFixed(minorUnits(currency)),
      description: typeof p['description'] === 'string' ? cleanText(p['description']) : null,
      failureReason: status === 'failed' ? `legacy status ${sourceStatus}` : null,
      requestHash: sha256Hex(canonicalJson(p)),
      metadata,
      createdAt,
      refunds,
    });
  }

  private addEvent(batch: ImportBatch, id: string, e: Record<string, unknown>) {
    addRead(batch, 'events');
    if (!e || typeof e !== 'object') return batch.rejections.push({ entity: 'events', sourceId: id, reason: 'record is not an object' });
    if (!nonEmpty(e['event_type'])) return batch.rejections.push({ entity: 'events', sourceId: id, reason: 'event_type is missing' });
    const at = fromTimeText(e['timestamp']);
    if (!at) return batch.rejections.push({ entity: 'events', sourceId: id, reason: `timestamp ${JSON.stringify(e['timestamp'])} is not an ISO time` });
    const agentName = this.agentRef(batch, 'events', id, e['agent_id']);
    const data = e['data'] && typeof e['data'] === 'object' && !Array.isArray(e['data']) ? (cleanJson(e['data']) as JsonObject) : {};
    batch.events.push({ sourceId: id, type: cleanText(e['event_type'] as string), agentName, data: { ...data, importedFrom: { source: this.kind, id, agentId: (e['agent_id'] as string) ?? null } }, occurredAt: at } satisfies EventRecord);
    return undefined;
  }

  private agentRef(batch: ImportBatch, entity: string, id: string, agentId: unknown): string | null {
    if (agentId === undefined || agentId === null) return null;
    const name = typeof agentId === 'string' ? this.agentNames.get(agentId) : undefined;
    if (!name) batch.warnings.push({ entity, sourceId: id, reason: `agent_id ${JSON.stringify(agentId)} is not in agents; imported without an agent` });
    return name ?? null;
  }

  private addDocument(batch: ImportBatch, id: string, d: Record<string, unknown>, dictionary: string) {
    // One entity for the three dictionaries (they all become documents); the source id names the dictionary.
    const entity = 'documents';
    addRead(batch, entity);
    const ref = `${dictionary}:${id}`;
    if (!d || typeof d !== 'object') return batch.rejections.push({ entity, sourceId: ref, reason: 'record is not an object' });
    const faq = dictionary === 'faqs_store';
    const title = faq ? d['question'] : d['title'];
    const content = faq ? d['answer'] : d['content'];
    if (!nonEmpty(title)) return batch.rejections.push({ entity, sourceId: ref, reason: `${faq ? 'question' : 'title'} is missing` });
    if (content !== undefined && content !== null && typeof content !== 'string') return batch.rejections.push({ entity, sourceId: ref, reason: `${faq ? 'answer' : 'content'} is not text` });
    let embedding: number[] | null = null;
    if (dictionary === 'knowledge_base') {
      const e = this.dump.embeddings_cache?.[id];
      if (e !== undefined && e !== null) {
        const usable = Array.isArray(e) && e.length === this.embeddingDimensions && e.every((x) => typeof x === 'number' && Number.isFinite(x)) && e.some((x) => x !== 0);
        if (usable) embedding = e as number[];
        else batch.warnings.push({ entity, sourceId: ref, reason: `embedding is not ${this.embeddingDimensions} finite numbers (got ${Array.isArray(e) ? e.length : typeof e}); stored without it` });
      }
    }
    const sourceId = `${dictionary}:${id}`;
    const legacy: JsonObject = d['metadata'] && typeof d['metadata'] === 'object' ? { legacy: cleanJson(d['metadata']) } : {};
    const text = typeof content === 'string' ? cleanText(content) : null;
    batch.documents.push({
      sourceId,
      agentName: this.agentRef(batch, entity, ref, d['agent_id']),
      title: cleanText(title as string),
      content: text,
      metadata: { kind: faq ? 'faq' : dictionary === 'knowledge_base' ? 'knowledge_base' : 'document', importedFrom: { source: this.kind, dictionary, id }, ...legacy },
      chunks: text ? [{ content: text, embedding }] : [],
      createdAt: fromTimeText(d['created_at']),
    } satisfies DocumentRecord);
    return undefined;
  }

  async close(): Promise<void> {
    // nothing held open: the dump was read whole
  }
}
