import os from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Prisma } from '../generated/prisma/client';
import { fromSql } from 'pgvector/utils';
import { InvalidInputError } from './errors';

/**
 * The dimension of the `vector(...)` columns (memories.embedding, document_chunks.embedding) as the migrations
 * create them. A deployment that migrated them to another dimension says so once, `DbModule.forRoot({
 * embeddingDimensions })` (the API: EMBEDDING_DIMENSIONS, checked against the columns at start-up with
 * `vectorColumnDimensions`); the repositories check every embedding against that (VECTOR_DIMENSIONS).
 */
export const EMBEDDING_DIMENSIONS = 1536;

/** Injection token of the dimension the repositories check embeddings against (default EMBEDDING_DIMENSIONS). */
export const VECTOR_DIMENSIONS = Symbol('VECTOR_DIMENSIONS');

/** pgvector's limit on a vector column's dimension. */
export const MAX_VECTOR_DIMENSIONS = 16_000;

/** `dimensions` if it is a dimension a vector column can have; throws otherwise (a configuration error). */
export function assertVectorDimensions(dimensions: number): number {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_VECTOR_DIMENSIONS) {
    throw new RangeError(`embedding dimensions must be an integer from 1 to ${MAX_VECTOR_DIMENSIONS}, got ${dimensions}`);
  }
  return dimensions;
}

/** The declared dimension of each vector column (its typmod), by `table.column`; none before the migrations ran. */
export async function vectorColumnDimensions(run: <T>(sql: Prisma.Sql) => Promise<T[]>): Promise<Map<string, number>> {
  const rows = await run<{ column: string; dims: number }>(Prisma.sql`
    select c.relname || '.' || a.attname as "column", a.atttypmod as dims
      from pg_attribute a join pg_class c on c.oid = a.attrelid
     where c.relnamespace = current_schema()::regnamespace and not a.attisdropped
       and (c.relname, a.attname) in (('memories', 'embedding'), ('document_chunks', 'embedding'))`);
  return new Map(rows.filter((r) => r.dims > 0).map((r) => [r.column, r.dims]));
}

/** Largest magnitude a float4 (pgvector's element type) holds; larger values would become Infinity. */
const FLOAT4_MAX = 3.4028234663852886e38;

/**
 * An embedding as callers send it: numbers, or a base64 string of little-endian float32 values (the
 * `encoding_format: "base64"` of the embedding APIs: 8 KiB for 1536 dimensions instead of 20–30 KiB of JSON
 * numbers, and no number parsing), or the decoded form. Every form is stored as float4 (pgvector's element type).
 */
export type EmbeddingInput = readonly number[] | Float32Array | string;

const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * The embedding, validated, as float32 values. Throws `InvalidInputError` naming `path` (`embedding`,
 * `memories.3.embedding`) unless `value` is `dimensions` finite numbers that are not all zero (cosine distance to a
 * zero vector is undefined: pgvector returns NaN and such a row would never rank), given as an array of numbers,
 * a Float32Array, or base64 of little-endian float32 values (wrong length, NaN/Infinity and bad base64 included).
 */
export function toEmbedding(value: unknown, path = 'embedding', dimensions = EMBEDDING_DIMENSIONS): Float32Array {
  const fail = (message: string): never => {
    throw new InvalidInputError(`invalid embedding: ${message}`, [{ path, message }]);
  };
  let vector: Float32Array;
  if (typeof value === 'string') {
    const bytes = decodeBase64(value);
    if (!bytes) return fail('must be an array of numbers or base64 (standard alphabet, padded) of little-endian float32 values');
    if (bytes.length % 4 !== 0) fail(`base64 decodes to ${bytes.length} bytes, not a whole number of float32 values (4 bytes each)`);
    vector = float32FromLittleEndian(bytes);
  } else if (value instanceof Float32Array) {
    vector = value;
  } else if (Array.isArray(value)) {
    const numbers = value as unknown[];
    vector = new Float32Array(numbers.length);
    for (let i = 0; i < numbers.length; i++) {
      const x = numbers[i];
      // Checked before the float32 conversion: a number beyond float4's range would silently become Infinity.
      if (typeof x !== 'number' || !Number.isFinite(x) || Math.abs(x) > FLOAT4_MAX) fail(`element ${i} is not a finite number`);
      vector[i] = x as number;
    }
  } else {
    return fail('must be an array of numbers or a base64 string of little-endian float32 values');
  }
  if (vector.length !== dimensions) fail(`must have ${dimensions} dimensions, got ${vector.length}`);
  let nonZero = false;
  for (let i = 0; i < vector.length; i++) {
    const x = vector[i];
    if (x !== x || x === Infinity || x === -Infinity) fail(`element ${i} is not a finite number (NaN or Infinity)`);
    if (x !== 0) nonZero = true;
  }
  if (!nonZero) fail('must not be all zeros (cosine similarity is undefined for a zero vector)');
  return vector;
}

/** Throws like `toEmbedding`; for callers that only need the check. */
export function assertEmbedding(value: unknown, path = 'embedding', dimensions = EMBEDDING_DIMENSIONS): asserts value is EmbeddingInput {
  toEmbedding(value, path, dimensions);
}

/**
 * How many dimensions an embedding has, without decoding it: the array's length, or the float32 count a base64
 * string of this length holds; null when that cannot be told (not an array or string, a length no padded base64
 * has, bytes that are no whole float32). Whether the characters are base64 is `toEmbedding`'s check.
 */
export function embeddingLength(value: unknown): number | null {
  if (Array.isArray(value) || value instanceof Float32Array) return value.length;
  if (typeof value !== 'string' || value.length % 4 !== 0) return null;
  const bytes = (value.length / 4) * 3 - (value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0);
  return bytes % 4 === 0 ? bytes / 4 : null;
}

/**
 * The bytes of standard, padded base64, or null for anything else. Buffer's decoder skips what it does not know
 * (whitespace, `!`) and takes the URL-safe alphabet too, so the bytes are encoded again and compared: about ten
 * times faster than a regular expression over the 8 KiB of a 1536-dimension embedding (measured: 5 ms vs 50 ms
 * for 1,000), and it also refuses padding in the middle and non-zero unused bits, which no encoder writes.
 */
function decodeBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

/** base64 of the values as little-endian float32: what `toEmbedding` reads, and what `?embeddingFormat=base64` returns. */
export function encodeEmbedding(vector: ArrayLike<number>): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes.toString('base64');
}

function float32FromLittleEndian(bytes: Buffer): Float32Array {
  const count = bytes.length / 4;
  if (LITTLE_ENDIAN) {
    // A copy: the decoded Buffer may sit at an offset of a shared pool that is not a multiple of 4.
    const vector = new Float32Array(count);
    new Uint8Array(vector.buffer).set(bytes);
    return vector;
  }
  const vector = new Float32Array(count);
  for (let i = 0; i < count; i++) vector[i] = bytes.readFloatLE(i * 4);
  return vector;
}

const POWERS_OF_TEN = Float64Array.from({ length: 121 }, (_, i) => Number(`1e${i - 60}`));

/**
 * pgvector's text form (`[1.5,-2e-3,…]`) of a validated embedding, each value written with the 9 significant
 * digits that identify a float32 exactly (pgvector reads them with strtof, so the stored float4 is the value
 * given). Written byte by byte into one buffer instead of `JSON.stringify` of the numbers, which prints the up to
 * 17 digits of each float32's double: measured on 1,000 × 1536 values, about half the CPU (this runs for every
 * embedding written or searched) and a third less text for PostgreSQL to parse.
 */
export function vectorText(vector: ArrayLike<number>): string {
  const out = Buffer.allocUnsafe(2 + vector.length * 16);
  let p = 0;
  out[p++] = 0x5b; // [
  for (let i = 0; i < vector.length; i++) {
    if (i > 0) out[p++] = 0x2c; // ,
    let x = Math.fround(vector[i]);
    if (x === 0) {
      out[p++] = 0x30;
      continue;
    }
    if (x < 0) {
      out[p++] = 0x2d; // -
      x = -x;
    }
    // m: the 9 significant digits (100000000 ≤ m < 1e9), x ≈ m × 10^(e − 8); log10 may be off by one near a power of ten.
    let e = Math.floor(Math.log10(x));
    let m = Math.round(x * POWERS_OF_TEN[68 - e]);
    if (m >= 1e9) m = Math.round(x * POWERS_OF_TEN[68 - ++e]);
    else if (m < 1e8) m = Math.round(x * POWERS_OF_TEN[68 - --e]);
    let exponent = e - 8;
    while (m % 10 === 0) {
      m /= 10;
      exponent++;
    }
    const digits = m < 10 ? 1 : m < 100 ? 2 : m < 1e3 ? 3 : m < 1e4 ? 4 : m < 1e5 ? 5 : m < 1e6 ? 6 : m < 1e7 ? 7 : m < 1e8 ? 8 : 9;
    for (let k = p + digits - 1; k >= p; k--) {
      const q = Math.floor(m / 10);
      out[k] = 0x30 + m - q * 10;
      m = q;
    }
    p += digits;
    if (exponent !== 0) {
      out[p++] = 0x65; // e
      if (exponent < 0) {
        out[p++] = 0x2d;
        exponent = -exponent;
      }
      if (exponent >= 10) {
        out[p++] = 0x30 + Math.floor(exponent / 10);
        exponent %= 10;
      }
      out[p++] = 0x30 + exponent;
    }
  }
  out[p++] = 0x5d; // ]
  return out.toString('latin1', 0, p);
}

/** The embedding as a SQL parameter cast to `vector`; validate it first (`toEmbedding`). */
export function vectorParam(embedding: ArrayLike<number>): Prisma.Sql {
  return Prisma.sql`${vectorText(embedding)}::vector`;
}

/**
 * Parses pgvector's text form (`[1,2,3]`, what `embedding::text` returns) into numbers. The text is the
 * shortest decimal that identifies each float4, so each value is rounded back to that float4 exactly.
 */
export function parseVector(text: string | null): number[] | null {
  return text === null ? null : (fromSql(text) as number[]).map(Math.fround);
}

/**
 * `fn` over every item, giving the event loop a turn whenever a slice of work has run for `sliceMs`: decoding,
 * checking and formatting a 1,000-embedding batch costs 100–300 ms of CPU, which in one piece would hold up every
 * other request on this process for as long.
 */
export async function mapInSlices<T, R>(items: readonly T[], fn: (item: T, index: number) => R, sliceMs = 4): Promise<R[]> {
  const results = new Array<R>(items.length);
  let sliceStart = performance.now();
  for (let i = 0; i < items.length; i++) {
    results[i] = fn(items[i], i);
    if (performance.now() - sliceStart >= sliceMs && i + 1 < items.length) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return results;
}
