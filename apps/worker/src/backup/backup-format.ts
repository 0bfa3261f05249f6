import { createCipheriv, createDecipheriv, createHash, hash, randomBytes, type DecipherGCM, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { gzip } from 'node:zlib';

/**
 * The backup object, inside out:
 *
 *   frames  →  gzip  →  [AES-256-GCM]  →  stored object
 *
 * Frames (type byte, uint32 big-endian length, payload) carry one header, then per table a start frame
 * (name + column list), data frames (the table's `COPY … TO STDOUT` text, batched) and an end frame (rows,
 * sha256 of the data), then a trailer. A stream without the trailer is incomplete. Encrypted objects start with
 * ENCRYPTED_MAGIC and a 12-byte IV and end with the 16-byte GCM tag; the tag is checked when the stream ends,
 * before a restore commits.
 *
 * Hand-written rather than tar: tar needs each entry's size up front, which a streamed COPY does not know.
 */
export const FORMAT_NAME = 'agenthub-backup';
export const FORMAT_VERSION = 1;
export const ENCRYPTED_MAGIC = Buffer.from('AHBENC01', 'latin1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** COPY hands out one message per row; frames batch them to about this size. */
export const DATA_FRAME_BYTES = 256 * 1024;

export const enum FrameType {
  Header = 0x48, // H
  TableStart = 0x54, // T
  Data = 0x44, // D
  TableEnd = 0x45, // E
  Trailer = 0x5a, // Z
}

export interface HeaderFrame {
  format: typeof FORMAT_NAME;
  formatVersion: number;
  backupId: string;
  schemaVersion: string;
  createdAt: string;
}
export interface TableStartFrame {
  table: string;
  columns: string[];
}
export interface TableEndFrame {
  table: string;
  rows: number;
  bytes: number;
  sha256: string;
  /** RowDigest of the rows (order-independent), what a restore verifies against */
  rowDigest?: string;
}
export interface TrailerFrame {
  tables: number;
}

export type Frame =
  | { type: FrameType.Header; value: HeaderFrame }
  | { type: FrameType.TableStart; value: TableStartFrame }
  | { type: FrameType.Data; data: Buffer }
  | { type: FrameType.TableEnd; value: TableEndFrame }
  | { type: FrameType.Trailer; value: TrailerFrame };

export function encodeFrame(type: FrameType, payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = type;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export function jsonFrame(type: FrameType, value: object): Buffer {
  return encodeFrame(type, Buffer.from(JSON.stringify(value), 'utf8'));
}

export class FormatError extends Error {}

/** Splits a byte stream (already decrypted and decompressed) into frames. */
export async function* decodeFrames(source: AsyncIterable<Buffer>): AsyncGenerator<Frame> {
  let pending: Buffer = Buffer.alloc(0);
  let sawTrailer = false;
  for await (const chunk of source) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let offset = 0;
    while (pending.length - offset >= 5) {
      const length = pending.readUInt32BE(offset + 1);
      if (pending.length - offset - 5 < length) break;
      const type = pending[offset] as FrameType;
      const payload = pending.subarray(offset + 5, offset + 5 + length);
      offset += 5 + length;
      if (sawTrailer) throw new FormatError('data after the end of the backup');
      const frame = toFrame(type, payload);
      if (frame.type === FrameType.Trailer) sawTrailer = true;
      yield frame;
    }
    pending = pending.subarray(offset);
  }
  if (pending.length) throw new FormatError('the backup ends in the middle of a frame (truncated)');
  if (!sawTrailer) throw new FormatError('the backup has no end marker (truncated or incomplete)');
}

function toFrame(type: FrameType, payload: Buffer): Frame {
  const json = () => {
    try {
      return JSON.parse(payload.toString('utf8')) as never;
    } catch {
      throw new FormatError(`frame ${String.fromCharCode(type)} is not valid JSON`);
    }
  };
  switch (type) {
    case FrameType.Data:
      return { type, data: payload };
    case FrameType.Header:
    case FrameType.TableStart:
    case FrameType.TableEnd:
    case FrameType.Trailer:
      return { type, value: json() };
    default:
      throw new FormatError(`unknown frame type 0x${(type as number).toString(16)}: not an agenthub backup`);
  }
}

/** AES-256-GCM over the compressed stream: magic + IV, ciphertext, tag. */
export function encryptStream(key: Buffer): Transform {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(ENCRYPTED_MAGIC);
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (!started) {
        started = true;
        this.push(Buffer.concat([ENCRYPTED_MAGIC, iv]));
      }
      done(null, cipher.update(chunk));
    },
    flush(done: TransformCallback) {
      if (!started) this.push(Buffer.concat([ENCRYPTED_MAGIC, iv]));
      this.push(cipher.final());
      done(null, cipher.getAuthTag());
    },
  });
}

export class DecryptionError extends Error {}

/**
 * The inverse of encryptStream. Plaintext is passed on as it is decrypted (so a restore can stream), but the
 * stream only ends successfully once the tag has been checked: callers commit after the stream's end.
 */
export function decryptStream(key: Buffer): Transform {
  let head: Buffer | null = Buffer.alloc(0) as Buffer;
  let decipher: DecipherGCM | null = null;
  let tail: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (head) {
        head = Buffer.concat([head, chunk]);
        if (head.length < ENCRYPTED_MAGIC.length + IV_BYTES) return done();
        if (!head.subarray(0, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC)) {
          return done(new DecryptionError('the backup is not encrypted with this format'));
        }
        const iv = head.subarray(ENCRYPTED_MAGIC.length, ENCRYPTED_MAGIC.length + IV_BYTES);
        decipher = createDecipheriv('aes-256-gcm', key, iv) as DecipherGCM;
        decipher.setAAD(ENCRYPTED_MAGIC);
        chunk = head.subarray(ENCRYPTED_MAGIC.length + IV_BYTES);
        head = null;
      }
      // Hold back the last TAG_BYTES: they are the tag, not ciphertext.
      const all = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      const cut = Math.max(0, all.length - TAG_BYTES);
      tail = all.subarray(cut);
      done(null, cut ? decipher!.update(all.subarray(0, cut)) : undefined);
    },
    flush(done: TransformCallback) {
      if (!decipher || tail.length !== TAG_BYTES) return done(new DecryptionError('the encrypted backup is truncated'));
      try {
        decipher.setAuthTag(tail);
        done(null, decipher.final());
      } catch {
        done(new DecryptionError('authentication failed: wrong BACKUP_ENCRYPTION_KEY, or the backup was altered'));
      }
    },
  });
}

/** Counts and hashes what flows through. */
export class DigestStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** A short, non-reversible id of the encryption key, so restore can say "wrong key" before reading data. */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update('agenthub-backup-key:').update(key).digest('hex').slice(0, 16);
}

/** COPY text ends every row with one raw newline (newlines inside values are escaped as \n). */
export function countNewlines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * An order-independent digest of a table's COPY rows: the lane-wise sum (8 × uint32, mod 2^32) of each row's
 * sha256. The restore's verification needs it because a table's physical row order is not the order it was
 * loaded in (COPY FROM fills free space left in earlier pages by wide, TOASTed rows such as embeddings), so the
 * restored table's COPY text is a permutation of the backup's: same rows, same digest, different sha256.
 * Not a defence against tampering — the stored object's sha256 and the GCM tag are — but any changed, missing
 * or extra row changes it.
 */
export class RowDigest {
  private readonly lanes = new Uint32Array(8);
  private carry: Buffer | null = null;
  rows = 0;

  update(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const row = this.carry ? Buffer.concat([this.carry, chunk.subarray(start, nl + 1)]) : chunk.subarray(start, nl + 1);
      this.carry = null;
      this.add(row);
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      // Copied: the caller may reuse its buffer.
      this.carry = this.carry ? Buffer.concat([this.carry, rest]) : Buffer.from(rest);
    }
  }

  private add(row: Buffer): void {
    const h = hash('sha256', row, 'buffer') as unknown as Buffer;
    for (let i = 0; i < 8; i++) this.lanes[i] = (this.lanes[i] + h.readUInt32BE(i * 4)) >>> 0;
    this.rows++;
  }

  digest(): string {
    // An unterminated last row is still a row (it will not match a complete one).
    if (this.carry) this.add(this.carry);
    this.carry = null;
    const out = Buffer.allocUnsafe(32);
    this.lanes.forEach((lane, i) => out.writeUInt32BE(lane, i * 4));
    return out.toString('hex');
  }
}

/**
 * gzip on several threads: the input is cut into blocks, each compressed on its own in libuv's thread pool
 * (`zlib.gzip`, `concurrency` blocks in flight) and written out in order as consecutive gzip members — a valid
 * gzip stream (RFC 1952 allows several members; node's gunzip and `gzip -d` read them all). Written here because
 * node:zlib compresses one stream on one thread, which made compression the bottleneck of a backup (pg_dump
 * compresses on its own core too); no maintained library does this for node streams. Each block restarts the
 * dictionary, which costs well under 1% of size at 1 MiB blocks.
 */
export function parallelGzip(level: number, options: { blockBytes?: number; concurrency?: number } = {}): Transform {
  const blockBytes = options.blockBytes ?? 1024 * 1024;
  const concurrency = options.concurrency ?? 2;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const inFlight: Array<Promise<Buffer>> = [];
  const compress = (block: Buffer) =>
    new Promise<Buffer>((resolve, reject) => gzip(block, { level }, (error, out) => (error ? reject(error) : resolve(out))));
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < blockBytes) return done();
      inFlight.push(compress(Buffer.concat(pending, pendingBytes)));
      pending = [];
      pendingBytes = 0;
      if (inFlight.length < concurrency) return done();
      // Backpressure: wait for the oldest block before taking more input.
      inFlight.shift()!.then(
        (out) => done(null, out),
        (error: Error) => done(error),
      );
    },
    flush(done: TransformCallback) {
      if (pendingBytes || inFlight.length === 0) inFlight.push(compress(Buffer.concat(pending, pendingBytes)));
      Promise.all(inFlight).then(
        (outs) => {
          for (const out of outs) this.push(out);
          done();
        },
        (error: Error) => done(error),
      );
    },
  });
}
