import { z } from 'zod';
import { FORMAT_NAME } from './backup-format';

/**
 * The manifest stored beside each backup object (`<id>/manifest.json`) and copied into the catalog row. It is
 * written only after the object is fully stored, so a backup without a manifest is by definition incomplete.
 */
export const manifestSchema = z.object({
  format: z.literal(FORMAT_NAME),
  formatVersion: z.number().int(),
  id: z.string().uuid(),
  /** last applied migration at the time of the snapshot */
  schemaVersion: z.string(),
  migrations: z.array(z.string()),
  database: z.object({ mode: z.enum(['postgres', 'embedded']), serverVersion: z.string() }),
  startedAt: z.string(),
  finishedAt: z.string(),
  compression: z.object({ algorithm: z.literal('gzip'), level: z.number().int() }),
  encryption: z.object({ algorithm: z.literal('aes-256-gcm'), keyFingerprint: z.string() }).nullable(),
  object: z.object({ key: z.string(), location: z.string(), sizeBytes: z.number().int(), sha256: z.string() }),
  tables: z.array(
    z.object({
      name: z.string(),
      columns: z.array(z.string()),
      rows: z.number().int(),
      /** uncompressed COPY text bytes */
      bytes: z.number().int(),
      /** sha256 of the table's COPY text (in the order stored) */
      sha256: z.string(),
      /** order-independent digest of the rows (RowDigest); absent in manifests written before it existed */
      rowDigest: z.string().optional(),
      ms: z.number(),
    }),
  ),
  totals: z.object({ rows: z.number().int(), bytes: z.number().int() }),
  timings: z.object({ totalMs: z.number(), snapshotMs: z.number(), storeMs: z.number() }),
});

export type BackupManifest = z.infer<typeof manifestSchema>;

export const objectKey = (id: string) => `${id}/backup.ahb`;
export const manifestKey = (id: string) => `${id}/manifest.json`;

export function parseManifest(raw: Buffer | string): BackupManifest {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString());
  } catch {
    throw new Error('the manifest is not valid JSON');
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new Error(`the manifest is not valid: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  return parsed.data;
}
