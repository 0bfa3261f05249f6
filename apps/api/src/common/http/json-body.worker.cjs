'use strict';
/**
 * Parses large JSON bodies off the main thread (see json-body.ts). A body arrives as messages { type: 'start', id },
 * { type: 'chunk', id, chunk: Uint8Array } as the request's chunks come in, then { type: 'end', id } (or 'abort');
 * the answer to 'end' is { id, ok: true, value } or { id, ok: false }. Plain CommonJS so that the thread needs no
 * TypeScript loader (it runs under `node -r @swc-node/register`, jest and the Docker image alike).
 */
const { parentPort } = require('node:worker_threads');
const os = require('node:os');
const secureJson = require('secure-json-parse');

const FLOAT4_MAX = 3.4028234663852886e38;
const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * An embedding given as JSON numbers becomes what a client sending `encoding_format: "base64"` sends: its values
 * as little-endian float32, base64. The main thread then handles an 8 KiB string instead of 1536 numbers (schema
 * check, idempotency hash, decoding). The values are stored as float4 in any case. Anything that is not an array
 * of numbers within float4's range is left as it is, for the validation to name.
 */
function compact(value) {
  if (!Array.isArray(value) || value.length === 0) return value;
  const vector = new Float32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const x = value[i];
    if (typeof x !== 'number' || !(Math.abs(x) <= FLOAT4_MAX)) return value;
    vector[i] = x;
  }
  const bytes = Buffer.from(vector.buffer);
  if (!LITTLE_ENDIAN) bytes.swap32();
  return bytes.toString('base64');
}

function compactItem(item) {
  if (item !== null && typeof item === 'object' && !Array.isArray(item) && Object.hasOwn(item, 'embedding')) {
    item.embedding = compact(item.embedding);
  }
}

/** The embedding fields of the bodies that take many: `embedding`, `memories[].embedding`, `chunks[].embedding`. */
function compactEmbeddings(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  compactItem(body);
  for (const key of ['memories', 'chunks']) {
    if (Object.hasOwn(body, key) && Array.isArray(body[key])) body[key].forEach(compactItem);
  }
}

/** Chunks of the bodies being received, by id. */
const bodies = new Map();

function parse(chunks) {
  const text = Buffer.concat(chunks).toString('utf8');
  // What the main thread's parser does: an empty body is no body; __proto__ and constructor.prototype refused.
  const value = text.trim() === '' ? undefined : secureJson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
  compactEmbeddings(value);
  return value;
}

parentPort.on('message', ({ type, id, chunk }) => {
  if (type === 'start') bodies.set(id, []);
  else if (type === 'chunk') bodies.get(id)?.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  else if (type === 'abort') bodies.delete(id);
  else if (type === 'end') {
    const chunks = bodies.get(id) ?? [];
    bodies.delete(id);
    let value;
    try {
      value = parse(chunks);
    } catch {
      parentPort.postMessage({ id, ok: false });
      return;
    }
    parentPort.postMessage({ id, ok: true, value });
  }
});
