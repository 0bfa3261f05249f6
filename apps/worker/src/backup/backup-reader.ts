import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { BackupStorage } from '../storage/backup-storage';
import { countNewlines, decodeFrames, decryptStream, DigestStream, FormatError, FrameType, keyFingerprint, type HeaderFrame } from './backup-format';
import { manifestKey, parseManifest, type BackupManifest } from './backup-manifest';

export class BackupNotFoundError extends Error {
  constructor(id: string) {
    super(`backup ${id} not found in storage (no manifest: unknown id, deleted, or never completed)`);
  }
}

/** The stored object disagrees with its manifest (or cannot be decrypted / decompressed). */
export class BackupIntegrityError extends Error {}

export async function loadManifest(storage: BackupStorage, id: string): Promise<BackupManifest> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new BackupNotFoundError(id);
  const raw = await storage.get(manifestKey(id));
  if (!raw) throw new BackupNotFoundError(id);
  const manifest = parseManifest(raw);
  if (manifest.id !== id) throw new BackupIntegrityError(`the manifest under ${id} describes backup ${manifest.id}`);
  return manifest;
}

export function checkKey(manifest: BackupManifest, key: Buffer | null): Buffer | null {
  if (!manifest.encryption) return null;
  if (!key) throw new BackupIntegrityError('the backup is encrypted: set BACKUP_ENCRYPTION_KEY to the key it was made with');
  if (keyFingerprint(key) !== manifest.encryption.keyFingerprint) {
    throw new BackupIntegrityError('BACKUP_ENCRYPTION_KEY is not the key this backup was made with');
  }
  return key;
}

/** Callbacks a reader of the backup plugs in; each table's data arrives between start and end. */
export interface TableSink {
  start(table: BackupManifest['tables'][number]): Promise<void>;
  data(chunk: Buffer): Promise<void>;
  end(table: BackupManifest['tables'][number]): Promise<void>;
  /**
   * The read failed (bad tag, checksum, truncation, storage error) possibly while a table was loading: stop
   * now, making a pending start/data/end call reject. readBackup calls this before it rejects and makes no
   * other sink call after it.
   */
  abort?(error: Error): Promise<void>;
}

export interface ReadResult {
  tables: number;
  rows: number;
  bytes: number;
  storedBytes: number;
}

/**
 * Streams a stored backup through decryption, decompression and the frame decoder, and checks it against the
 * manifest on the way: the header's id, each table's name, columns, row count and sha256, the trailer, the
 * stored object's size and sha256 and (encrypted) the GCM tag. Resolves only once all of that held; any
 * mismatch rejects, so a caller that commits after this cannot commit a bad restore.
 */
export async function readBackup(
  storage: BackupStorage,
  manifest: BackupManifest,
  encryptionKey: Buffer | null,
  sink?: TableSink,
): Promise<ReadResult> {
  const key = checkKey(manifest, encryptionKey);
  const stored = new DigestStream();
  let object: Readable;
  try {
    object = await storage.read(manifest.object.key);
  } catch (e) {
    throw new BackupIntegrityError(`cannot read ${manifest.object.location}: ${(e as Error).message}`);
  }
  let tables = 0;
  let rows = 0;
  let bytes = 0;
  let stopped = false;
  const consume = async (source: AsyncIterable<Buffer>) => {
    let current: { entry: BackupManifest['tables'][number]; hash: Hash; rows: number; bytes: number } | null = null;
    let sawHeader = false;
    for await (const frame of decodeFrames(source)) {
      // decodeFrames can yield frames it already holds without pulling from the (failed) source again.
      if (stopped) throw new BackupIntegrityError('the read was stopped');
      if (!sawHeader) {
        if (frame.type !== FrameType.Header) throw new FormatError('the backup does not start with a header');
        const header: HeaderFrame = frame.value;
        if (header.backupId !== manifest.id) throw new BackupIntegrityError(`the object belongs to backup ${header.backupId}`);
        sawHeader = true;
        continue;
      }
      switch (frame.type) {
        case FrameType.TableStart: {
          if (current) throw new FormatError(`table ${frame.value.table} starts inside ${current.entry.name}`);
          const entry = manifest.tables[tables];
          if (!entry || entry.name !== frame.value.table || entry.columns.join(',') !== frame.value.columns.join(',')) {
            throw new BackupIntegrityError(`table ${frame.value.table} is not the manifest's table #${tables + 1}`);
          }
          current = { entry, hash: createHash('sha256'), rows: 0, bytes: 0 };
          await sink?.start(entry);
          break;
        }
        case FrameType.Data:
          if (!current) throw new FormatError('data outside a table');
          current.hash.update(frame.data);
          current.rows += countNewlines(frame.data);
          current.bytes += frame.data.length;
          await sink?.data(frame.data);
          break;
        case FrameType.TableEnd: {
          if (!current || current.entry.name !== frame.value.table) throw new FormatError(`unexpected end of table ${frame.value.table}`);
          const sha256 = current.hash.digest('hex');
          const { entry } = current;
          if (sha256 !== entry.sha256 || current.rows !== entry.rows || current.bytes !== entry.bytes) {
            throw new BackupIntegrityError(
              `table ${entry.name}: ${current.rows} rows, sha256 ${sha256.slice(0, 12)}… ` +
                `but the manifest says ${entry.rows} rows, ${entry.sha256.slice(0, 12)}…`,
            );
          }
          await sink?.end(entry);
          tables++;
          rows += current.rows;
          bytes += current.bytes;
          current = null;
          break;
        }
        case FrameType.Trailer:
          if (current) throw new FormatError(`the backup ends inside table ${current.entry.name}`);
          if (frame.value.tables !== tables || tables !== manifest.tables.length) {
            throw new BackupIntegrityError(`the backup holds ${tables} tables, the manifest lists ${manifest.tables.length}`);
          }
          break;
        default:
          throw new FormatError('a second header inside the backup');
      }
    }
  };
  // The sink is aborted as soon as any stage fails, not when pipeline() settles: since Node 22 pipeline() also
  // waits for the consuming function (nodejs/node#53462; Node 20 rejected once a second stage had errored),
  // and that function may be inside a sink call that returns only once the sink is aborted — a restore's COPY
  // waiting for drain — so aborting after pipeline() would deadlock. `stopped` also keeps consume from going
  // on to end the table or start the next one from frames already decoded. Then consume is awaited: when
  // readBackup rejects, nothing touches the sink any more and the caller can roll back.
  let failure: BackupIntegrityError | null = null;
  let aborted: Promise<void> = Promise.resolve();
  let settled = false;
  const fail = (e: unknown) => {
    if (failure || settled) return;
    failure = e instanceof BackupIntegrityError ? e : new BackupIntegrityError(`${manifest.object.location}: ${(e as Error).message}`);
    stopped = true;
    const error = failure;
    aborted = (async () => sink?.abort?.(error))().catch(() => undefined);
  };
  let consuming: Promise<void> | null = null;
  try {
    const last = (source: AsyncIterable<Buffer>) =>
      (consuming = consume(source).catch((e: unknown) => {
        fail(e);
        throw e;
      }));
    const streams = [object, stored, ...(key ? [decryptStream(key)] : []), createGunzip()];
    // The stage that fails reports the real error first; pipeline() then destroys the unfinished others with it.
    // An AbortError only means consume left early: it threw, and reports that error itself.
    for (const stream of streams) stream.on('error', (e: Error) => e.name !== 'AbortError' && fail(e));
    await (pipeline as unknown as (...s: unknown[]) => Promise<void>)(...streams, last);
  } catch (e) {
    fail(e);
    await aborted;
    await (consuming as Promise<void> | null)?.catch(() => undefined);
    throw failure ?? e;
  } finally {
    settled = true;
  }
  const sha256 = stored.digest();
  if (stored.bytes !== manifest.object.sizeBytes || sha256 !== manifest.object.sha256) {
    throw new BackupIntegrityError(
      `the stored object (${stored.bytes} bytes, sha256 ${sha256.slice(0, 12)}…) is not the one the manifest describes ` +
        `(${manifest.object.sizeBytes} bytes, ${manifest.object.sha256.slice(0, 12)}…)`,
    );
  }
  return { tables, rows, bytes, storedBytes: stored.bytes };
}
