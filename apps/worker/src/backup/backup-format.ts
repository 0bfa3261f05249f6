import { createCipheriv, createDecipheriv, createHash, randomBytes, type DecipherGCM, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

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
