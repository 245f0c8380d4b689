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

/** A CairnError `malformed` (class `error`), as the verifiers throw for a wrong argument. */
function malformed(message) {
  return Object.assign(new Error(message), { name: 'CairnError', code: 'malformed', class: 'error' });
}

/**
 * Streams a file from disk through SHA-256. `onProgress(bytesDone, bytesTotal)` is called per
 * chunk; `signal` (an AbortSignal) stops the read. A `chunkSize` that is not a positive safe
 * integer is a CairnError `malformed`. Read failures reject with Node's own errors (`ENOENT`,
 * `EISDIR`, ...); a regular file whose size changes while it is read (the bytes hashed are not
 * the size it had when opened) rejects with an `Error` of code `io`, not with a digest of a
 * torn read.
 */
async function hashFile(path, options = {}) {
  const { onProgress, signal, chunkSize = 1 << 20 } = options;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    const got = chunkSize === null ? 'null' : typeof chunkSize === 'number' ? String(chunkSize) : typeof chunkSize;
    throw malformed(`hashFile: chunkSize must be a positive safe integer, got ${got}`);
  }
  // The size is read from the file that is read (an open handle), not from the path again.
  const file = await fs.promises.open(path, 'r');
  let stat;
  try {
    stat = await file.stat();
  } catch (e) {
    await file.close();
    throw e;
  }
  const total = stat.size;
  const hasher = new ArtifactHasher();
  // The stream closes the handle when it ends, fails or is aborted; one that cannot be made
  // (a `signal` that is no AbortSignal) leaves it to be closed here.
  let stream;
  try {
    stream = file.createReadStream({ highWaterMark: chunkSize, signal });
  } catch (e) {
    await file.close();
    throw e;
  }
  for await (const chunk of stream) {
    hasher.update(chunk);
    if (onProgress) onProgress(hasher.size, total);
  }
  // Only a regular file's size is known beforehand (a pipe or a device says 0).
  if (stat.isFile() && hasher.size !== total) {
    const err = new Error(
      `hashFile: ${hasher.size} bytes were read from ${String(path)}, but its size was ${total} when opened: it changed while it was read`,
    );
    err.code = 'io';
    throw err;
  }
  return hasher.digest();
}

module.exports = { ArtifactHasher, hashFile, hashBytes };
