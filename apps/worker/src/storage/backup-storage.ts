import type { Readable, Writable } from 'node:stream';

/** A backup object being written: write to `stream`, then await `done()`; on failure call `abort()`. */
export interface ObjectWriter {
  readonly stream: Writable;
  /** Resolves once the object is durably stored under its key (and not before). */
  done(): Promise<void>;
  /** Drops whatever was written; nothing is left under the key. Never throws; says what it could not clean. */
  abort(): Promise<string | null>;
}

/**
 * Where backups live: an S3 bucket (multipart upload) or a local directory. Keys are `<backup id>/<file>`.
 * Both make a half-written object invisible under its final key: S3 only shows a multipart upload once it is
 * completed, the local directory writes to `<key>.partial` and renames.
 */
export interface BackupStorage {
  readonly kind: 's3' | 'local';
  /** A human-readable address of the key (s3://bucket/prefix/key or an absolute path). */
  location(key: string): string;
  createWriter(key: string): ObjectWriter;
  read(key: string): Promise<Readable>;
  /** Small objects (manifests), written atomically. */
  put(key: string, body: Buffer): Promise<void>;
  /** null when missing. */
  get(key: string): Promise<Buffer | null>;
  /** size in bytes, null when missing */
  size(key: string): Promise<number | null>;
  /** Removes every object of one backup (including partial ones). */
  deleteBackup(id: string): Promise<void>;
}

export const BACKUP_STORAGE = Symbol('BACKUP_STORAGE');
