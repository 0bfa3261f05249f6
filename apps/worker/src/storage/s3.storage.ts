import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Readable } from 'node:stream';
import type { S3Settings } from '../config/worker.config';
import type { BackupStorage, ObjectWriter } from './backup-storage';

export function s3ClientConfig(s: S3Settings): S3ClientConfig {
  return {
    region: s.region,
    endpoint: s.endpoint,
    forcePathStyle: s.forcePathStyle,
    credentials: s.credentials,
    // A backup that cannot reach the store should fail, not hang: bounded retries.
    maxAttempts: 3,
  };
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
}

/**
 * Backups in an S3 bucket. The object is streamed through lib-storage's multipart Upload (parts of
 * `partSizeBytes`, two in flight), so memory stays bounded whatever the database size; an upload that fails is
 * aborted (AbortMultipartUpload) and never becomes visible under its key.
 */
export class S3BackupStorage implements BackupStorage {
  readonly kind = 's3' as const;

  constructor(
    private readonly settings: S3Settings,
    readonly client: S3Client = new S3Client(s3ClientConfig(settings)),
  ) {}

  location(key: string): string {
    return `s3://${this.settings.bucket}/${this.key(key)}`;
  }

  createWriter(key: string): ObjectWriter {
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.settings.bucket, Key: this.key(key), Body: body, ContentType: 'application/octet-stream' },
      partSize: this.settings.partSizeBytes,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const result = upload.done();
    result.catch(() => undefined);
    let aborted = false;
    return {
      stream: body,
      done: async () => {
        await result;
      },
      abort: async () => {
        if (aborted) return null;
        aborted = true;
        body.destroy();
        // Upload.abort() stops the parts in flight; on error lib-storage itself sends AbortMultipartUpload.
        await upload.abort().catch(() => undefined);
        const outcome = await result.then(
          () => 'completed',
          (e: Error) => e,
        );
        // If the upload completed just before the abort, remove the object so nothing looks complete.
        if (outcome === 'completed') {
          try {
            await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key(key) }));
          } catch (e) {
            return `could not delete ${this.location(key)}: ${(e as Error).message}`;
          }
        }
        const cause = (outcome as Error & { cause?: Error })?.cause;
        return cause && /abort/i.test(String(cause?.message)) ? `AbortMultipartUpload failed: ${cause.message}` : null;
      },
    };
  }

  async read(key: string): Promise<Readable> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(key) }));
    if (!out.Body) throw new Error(`${this.location(key)} has no body`);
    return out.Body as Readable;
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.key(key), Body: body, ContentType: 'application/json' }),
    );
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(key) }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async size(key: string): Promise<number | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(key) }));
      return out.ContentLength ?? null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async deleteBackup(id: string): Promise<void> {
    const listed = await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.key(`${id}/`) }));
    // One DeleteObject per key: a backup has two objects, and not every S3-compatible store has DeleteObjects.
    for (const o of listed.Contents ?? []) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: o.Key! }));
    }
  }

  private key(key: string): string {
    return this.settings.prefix ? `${this.settings.prefix}/${key}` : key;
  }
}
