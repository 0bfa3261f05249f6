import { randomBytes, randomUUID, createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createGzip } from 'node:zlib';
import { LocalBackupStorage } from '../storage/local.storage';
import { encodeFrame, encryptStream, FORMAT_NAME, FORMAT_VERSION, FrameType, jsonFrame, keyFingerprint } from './backup-format';
import { objectKey, type BackupManifest } from './backup-manifest';
import { readBackup, type TableSink } from './backup-reader';

/** A small encrypted backup of two one-frame tables, written with the real format, and its manifest. */
async function encryptedBackup(dir: string, key: Buffer) {
  const id = randomUUID();
  const tables = ['a', 'b'].map((name) => {
    const data = Buffer.from(Array.from({ length: 50 }, (_, i) => `${i}\t${name}-row\n`).join(''));
    return { name, columns: ['n', 'v'], data, rows: 50, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex'), ms: 0 };
  });
  const frames = [
    jsonFrame(FrameType.Header, { format: FORMAT_NAME, formatVersion: FORMAT_VERSION, backupId: id, schemaVersion: 'x', createdAt: '' }),
    ...tables.flatMap((t) => [
      jsonFrame(FrameType.TableStart, { table: t.name, columns: t.columns }),
      encodeFrame(FrameType.Data, t.data),
      jsonFrame(FrameType.TableEnd, { table: t.name, rows: t.rows, bytes: t.bytes, sha256: t.sha256 }),
    ]),
    jsonFrame(FrameType.Trailer, { tables: tables.length }),
  ];
  const object = await buffer(Readable.from([Buffer.concat(frames)]).pipe(createGzip()).pipe(encryptStream(key)));
  const storage = new LocalBackupStorage(dir);
  fs.mkdirSync(path.join(dir, id));
  fs.writeFileSync(path.join(dir, objectKey(id)), object);
  const manifest: BackupManifest = {
    format: FORMAT_NAME,
    formatVersion: FORMAT_VERSION,
    id,
    schemaVersion: 'x',
    migrations: ['x'],
    database: { mode: 'postgres', serverVersion: '' },
    startedAt: '',
    finishedAt: '',
    compression: { algorithm: 'gzip', level: 6 },
    encryption: { algorithm: 'aes-256-gcm', keyFingerprint: keyFingerprint(key) },
    object: { key: objectKey(id), location: '', sizeBytes: object.length, sha256: createHash('sha256').update(object).digest('hex') },
    tables: tables.map((t) => ({ name: t.name, columns: t.columns, rows: t.rows, bytes: t.bytes, sha256: t.sha256, ms: t.ms })),
    totals: { rows: 100, bytes: tables[0].bytes + tables[1].bytes },
    timings: { totalMs: 0, snapshotMs: 0, storeMs: 0 },
  };
  return { storage, manifest, file: path.join(dir, objectKey(id)) };
}

describe(readBackup.name, () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-reader-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a good encrypted object through the sink, table by table', async () => {
    const key = randomBytes(32);
    const { storage, manifest } = await encryptedBackup(dir, key);
    const calls: string[] = [];
    const sink: TableSink = {
      start: async (t) => void calls.push(`start ${t.name}`),
      data: async (chunk) => void calls.push(`data ${chunk.length}`),
      end: async (t) => void calls.push(`end ${t.name}`),
      abort: async () => void calls.push('abort'),
    };

    const sut = await readBackup(storage, manifest, key, sink);

    expect(sut).toMatchObject({ tables: 2, rows: 100 });
    expect(calls).toEqual(['start a', `data ${manifest.tables[0].bytes}`, 'end a', 'start b', `data ${manifest.tables[1].bytes}`, 'end b']);
  });

  it('aborts a sink still busy with a table when the GCM tag fails, and settles only after the sink is left alone', async () => {
    const key = randomBytes(32);
    const { storage, manifest, file } = await encryptedBackup(dir, key);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1] ^= 0x01;
    fs.writeFileSync(file, bytes);
    manifest.object.sha256 = createHash('sha256').update(bytes).digest('hex');

    // What a restore's COPY does under backpressure: the first data write waits (for "drain") until the stream
    // is finished one way or the other. This sink lets the pending write complete normally on abort, the
    // lenient case: the reader itself must not go on to end the table or start the next one.
    const calls: string[] = [];
    let release: (() => void) | null = null;
    let pending = false;
    const sink: TableSink = {
      start: async (t) => void calls.push(`start ${t.name}`),
      data: async () => {
        calls.push('data');
        pending = true;
        await new Promise<void>((resolve) => (release = resolve));
        pending = false;
      },
      end: async (t) => void calls.push(`end ${t.name}`),
      abort: async (error) => {
        calls.push(`abort (${pending ? 'while writing' : 'idle'}): ${error.message}`);
        release?.();
      },
    };

    await expect(readBackup(storage, manifest, key, sink)).rejects.toThrow(/authentication failed/);
    const settled = [...calls];
    await new Promise((r) => setImmediate(r));

    // Whether the tag fails while the first write waits or just before it (the object is tiny, so that depends on
    // scheduling): the sink is aborted once, last, and never told to end a table or start the next one.
    expect(settled[settled.length - 1]).toMatch(/^abort \((while writing|idle)\): .*authentication failed/);
    expect(settled.filter((c) => c.startsWith('abort'))).toHaveLength(1);
    expect(settled.filter((c) => c.startsWith('end') || c === 'start b')).toEqual([]);
    expect(calls).toEqual(settled);
  });
});
