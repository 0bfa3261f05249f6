import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { PrismaService } from '@agenthub/db';
import { describeOnPostgres } from '@agenthub/db/testing';
import { randomBytes } from 'node:crypto';
// s3rver ships no types.
const S3rver = require('s3rver') as new (options: object) => { run(): Promise<AddressInfo>; close(): Promise<void>; httpServer: import('node:http').Server };
import { freshDatabase, makeKit, query, whenFree } from '../../test/backup-kit';
import { seedRealisticData } from '../../test/seed';
import { manifestKey, objectKey } from '../backup/backup-manifest';
import { loadWorkerConfig } from '../config/worker.config';
import { S3BackupStorage, s3ClientConfig } from './s3.storage';

const BUCKET = 'agenthub-test-backups';

/** A real S3-protocol server on loopback, its files in a temporary directory that survives a restart. */
async function startS3(dir: string, port = 0) {
  const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
  const address = await server.run();
  return {
    port: address.port,
    stop: async () => {
      const closing = server.close();
      // Drop keep-alive sockets too, so the client cannot slip more parts through: the store is gone.
      server.httpServer.closeAllConnections();
      await closing;
    },
  };
}

function s3Kit(port: number, prisma?: PrismaService) {
  const env = {
    BACKUP_BUCKET: BUCKET,
    BACKUP_PREFIX: 'it',
    S3_ENDPOINT: `http://127.0.0.1:${port}`,
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_PART_SIZE_MB: '5',
  };
  const config = loadWorkerConfig(env);
  if (config.backup.storage.kind !== 's3') throw new Error('expected S3 storage');
  const settings = config.backup.storage.s3;
  // Records which S3 operations the storage sent (an observer on the real client, not a mock).
  const sent: string[] = [];
  const client = new S3Client(s3ClientConfig(settings));
  client.middlewareStack.add((next, context) => async (args) => (sent.push(context.commandName as string), next(args)), { step: 'initialize' });
  const storage = new S3BackupStorage(settings, client);
  return { kit: makeKit({ env, storage, prisma }), sent, storage, settings };
}

describe(S3BackupStorage.name, () => {
  let dir: string;
  let s3: Awaited<ReturnType<typeof startS3>>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-s3rver-'));
    s3 = await startS3(dir);
  });
  afterAll(async () => {
    await s3.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('backs up to S3, verifies, restores, and applies retention by count', async () => {
    const { kit, storage } = s3Kit(s3.port);
    try {
      const orgs = await seedRealisticData(kit.prisma, 1, 10);
      const first = await whenFree(() => kit.backups.run());
      expect(first.location).toBe(`s3://${BUCKET}/it/${objectKey(first.id)}`);
      expect(await kit.repo.findById(first.id)).toMatchObject({ status: 'completed', target: 's3', location: first.location });
      expect(await storage.size(objectKey(first.id))).toBe(first.manifest.object.sizeBytes);
      expect(await kit.verifier.verify(first.id)).toMatchObject({ ok: true, tables: first.manifest.tables.length });

      const target = await freshDatabase();
      try {
        const restored = await kit.restorer.restore(first.id, { targetUrl: target.url });
        expect(restored.verifiedTables).toBe(first.manifest.tables.length);
        expect(await query(target.url, `select name from organizations where id = $1`, [orgs[0].organizationId])).toHaveLength(1);
      } finally {
        await target.drop();
      }

      // Retention by count: with BACKUP_RETENTION_COUNT=1 only the newest completed backup stays.
      const second = await whenFree(() => kit.backups.run());
      const keepOne = makeKit({ env: { ...kitEnv(s3.port), BACKUP_RETENTION_COUNT: '1' }, storage, prisma: kit.prisma });
      const pruned = await whenFree(() => keepOne.retention.prune());
      expect(pruned.deleted.map((d) => d.id)).toContain(first.id);
      expect(pruned.deleted.map((d) => d.id)).not.toContain(second.id);
      expect(await kit.repo.findById(first.id)).toBeNull();
      expect(await storage.get(manifestKey(first.id))).toBeNull();
      expect(await storage.get(manifestKey(second.id))).not.toBeNull();
    } finally {
      await kit.close();
    }
  });

  it('marks the backup failed and leaves nothing when the store is unreachable', async () => {
    const { kit, storage } = s3Kit(s3.port);
    const dead = s3Kit(1, kit.prisma); // nothing listens on port 1
    try {
      await expect(whenFree(() => dead.kit.backups.run())).rejects.toThrow();
      const [row] = (await kit.repo.listPage({ status: 'failed', limit: 1 })).data;
      expect(row).toMatchObject({ status: 'failed', target: 's3' });
      expect(row.error).toBeTruthy();
      expect(await storage.get(manifestKey(row.id))).toBeNull();
      expect(await storage.size(objectKey(row.id))).toBeNull();
    } finally {
      await kit.close();
    }
  });

  describeOnPostgres('S3 stopped in the middle of a multipart upload', () => {
    it('fails the backup, aborts the multipart upload, and no object or manifest appears', async () => {
      const { kit, sent, settings } = s3Kit(s3.port);
      const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await admin.connect();
      try {
        // ~10 MB of incompressible text so the upload needs more than one 5 MiB part.
        const { organizationId } = (await seedRealisticData(kit.prisma, 1, 1))[0];
        for (let i = 0; i < 5; i++) {
          await kit.prisma.document.create({ data: { organizationId, title: `big ${i}`, content: randomBytes(1_500_000).toString('base64') } });
        }
        // Hold refunds, a table of the last foreign-key level (after documents): the backup streams the documents, then waits.
        await admin.query('begin');
        await admin.query('lock table refunds in access exclusive mode');

        const run = whenFree(() => kit.backups.run());
        run.catch(() => undefined);
        for (let i = 0; i < 600 && !sent.includes('UploadPartCommand'); i++) await new Promise((r) => setTimeout(r, 50));
        expect(sent).toContain('CreateMultipartUploadCommand');
        expect(sent).toContain('UploadPartCommand');
        await s3.stop();
        await admin.query('commit');

        await expect(run).rejects.toThrow();
        expect(sent).toContain('AbortMultipartUploadCommand');
        const [row] = (await kit.repo.listPage({ status: 'failed', limit: 1 })).data;
        expect(row).toMatchObject({ status: 'failed', target: 's3' });

        s3 = await startS3(dir, s3.port);
        const check = new S3Client(s3ClientConfig(settings));
        await expect(check.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `it/${objectKey(row.id)}` }))).rejects.toMatchObject({
          $metadata: { httpStatusCode: 404 },
        });
        await expect(check.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `it/${manifestKey(row.id)}` }))).rejects.toMatchObject({
          $metadata: { httpStatusCode: 404 },
        });
        // And the next backup works again.
        const next = await whenFree(() => kit.backups.run());
        expect(await kit.verifier.verify(next.id)).toMatchObject({ ok: true });
      } finally {
        await admin.query('rollback').catch(() => undefined);
        await admin.end();
        await kit.close();
      }
    });
  });
});

function kitEnv(port: number): Record<string, string> {
  return {
    BACKUP_BUCKET: BUCKET,
    BACKUP_PREFIX: 'it',
    S3_ENDPOINT: `http://127.0.0.1:${port}`,
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
  };
}
