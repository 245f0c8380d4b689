// Types of the browser entry point.
export * from '../pkg/web/cairn_wasm.js';
import type { ArtifactDigest, InitInput } from '../pkg/web/cairn_wasm.js';

/** Loads the WebAssembly module once (default: cairn_wasm_bg.wasm beside the glue). */
export declare function init(source?: InitInput | Promise<InitInput>): Promise<void>;
export default init;

/**
 * Loads the second module (cairn_wasm_extras_bg.wasm beside the glue, or `source`), which
 * holds `inspect`, the blux-reg functions and every function marked "In the second module"
 * (cosignatures, revocation-map proofs, tiles, peer keys, exports, and the Merkle proof,
 * trust-root chain and ledger entry verifiers called on their own); they throw until it has
 * loaded.
 */
export declare function initExtras(source?: InitInput | Promise<InitInput>): Promise<void>;
/** Loads the third module (the handle registry's client side: `normaliseHandle`, `handleBlindIndex`, `envelopeKey`, `sealEnvelope`, `openEnvelope`, `issuePowChallenge`, `solvePow`, `verifyPowSolution`); they throw `ERR_CAIRN_HANDLE_NOT_LOADED` until it resolves. */
export declare function initHandle(source?: InitInput | Promise<InitInput>): Promise<void>;

/** Files up to this size are hashed by WebCrypto in one piece; larger ones are streamed. */
export declare const WEBCRYPTO_MAX_BYTES: number;

export interface HashBlobOptions {
  /** Called after each chunk with the bytes read so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Stops reading between chunks. */
  signal?: AbortSignal;
  /** Bytes read per File.slice (default 8 MiB): a positive safe integer, else a CairnError `malformed`. */
  chunkSize?: number;
  /** Stream through the wasm hasher even when WebCrypto could take the whole file. */
  forceStreaming?: boolean;
}

/** SHA-256 and length of a Blob or File (or bytes, taken as one), in chunks, with progress; anything else is a CairnError `malformed`. */
export declare function hashBlob(blob: Blob | ArrayBuffer | ArrayBufferView, options?: HashBlobOptions): Promise<ArtifactDigest>;

/** The verifier backend: always `'wasm'` in browsers. */
export declare function backend(): 'wasm';
