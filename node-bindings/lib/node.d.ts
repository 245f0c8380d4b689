// Types of the Node entry points (ESM and CommonJS alike).
export * from '../pkg/node/cairn_wasm.js';
import type { ArtifactDigest, BytesInput } from '../pkg/node/cairn_wasm.js';
export { ArtifactHasher as WasmArtifactHasher } from '../pkg/node/cairn_wasm.js';

/** Streaming SHA-256 of an artifact with node:crypto. */
export declare class ArtifactHasher {
  constructor();
  /** Feeds the next chunk; returns the hasher for chaining. */
  update(chunk: BytesInput): this;
  /** Bytes fed so far. */
  readonly size: number;
  /** SHA-256 and length of everything fed so far (the hasher can keep going). */
  digest(): ArtifactDigest;
  /** Nothing to release; present for parity with the wasm hasher. */
  free(): void;
}

export interface HashFileOptions {
  /** Called after each chunk with the bytes hashed so far and the file size. */
  onProgress?: (done: number, total: number) => void;
  /** Stops the read; the promise then rejects with an AbortError. */
  signal?: AbortSignal;
  /** Read size in bytes (default 1 MiB): a positive safe integer, else a CairnError `malformed`. */
  chunkSize?: number;
}

/** Streams a file through SHA-256 (node:crypto). A regular file whose length changes while it is read rejects
 * with an `Error` whose `code` is `'io'`. */
export declare function hashFile(path: string | URL, options?: HashFileOptions): Promise<ArtifactDigest>;

/** SHA-256 and length of bytes already in memory. */
export declare function hashBytes(bytes: BytesInput): ArtifactDigest;

/**
 * Which verifier backend this process uses: `'native'` (the napi-rs addon of the optional
 * platform package) or `'wasm'`. `CAIRN_VERIFY_BACKEND=native|wasm` forces one.
 */
export declare function backend(): 'native' | 'wasm';
