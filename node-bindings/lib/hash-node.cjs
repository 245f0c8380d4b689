'use strict';
// Artifact hashing in Node with node:crypto: SHA-256 and length, as the verifiers expect.
const crypto = require('node:crypto');
const fs = require('node:fs');

function toBytes(chunk) {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  // Not bytes: the backend's own hasher refuses the chunk, so the error is the one every
  // verifier throws for a wrong argument (a CairnError, `malformed`, its class from cairn-core).
  new (require('./backend.cjs').api.ArtifactHasher)().update(chunk);
  throw new Error('unreachable: the backend hasher took a chunk that is not bytes');
}

/** Streaming SHA-256 of an artifact: update(chunk) as often as needed, then digest(). */
class ArtifactHasher {
  constructor() {
    this._hash = crypto.createHash('sha256');
    this._size = 0;
  }

  /** Feeds the next chunk (Uint8Array/Buffer, ArrayBuffer, or a string as UTF-8). */
  update(chunk) {
    const bytes = toBytes(chunk);
    this._hash.update(bytes);
    this._size += bytes.length;
    return this;
  }

  /** Bytes fed so far. */
  get size() {
    return this._size;
  }

  /** `{algorithm: 'sha256', digest (hex), size}` of everything fed so far; can keep going. */
  digest() {
    return { algorithm: 'sha256', digest: this._hash.copy().digest('hex'), size: this._size };
  }

  /** Nothing to release (interface parity with the wasm hasher). */
  free() {}
}

/** Hashes a whole byte string at once. */
function hashBytes(bytes) {
  return new ArtifactHasher().update(bytes).digest();
}

/**
 * Streams a file from disk through SHA-256. `onProgress(bytesDone, bytesTotal)` is called per
 * chunk; `signal` (an AbortSignal) stops the read.
 */
async function hashFile(path, options = {}) {
  const { onProgress, signal, chunkSize = 1 << 20 } = options;
  const total = (await fs.promises.stat(path)).size;
  const hasher = new ArtifactHasher();
  const stream = fs.createReadStream(path, { highWaterMark: chunkSize, signal });
  for await (const chunk of stream) {
    hasher.update(chunk);
    if (onProgress) onProgress(hasher.size, total);
  }
  return hasher.digest();
}

module.exports = { ArtifactHasher, hashFile, hashBytes };
