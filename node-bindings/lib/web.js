// Browser entry point (ES module). Call `await init()` once before any verifier; it fetches
// cairn_wasm_bg.wasm next to the glue (or takes a URL, Response, bytes or WebAssembly.Module).
// `inspect`, the blux-reg functions, the witness cosignature and revocation-map verifiers, and
// the Merkle proof, trust-root chain and ledger verifiers called on their own (every function
// marked "In the second module") live in a second module that only pages using them fetch:
// `await initExtras()` first (cairn_wasm_extras_bg.wasm, or a source as for init).
import initWasm, * as wasm from '../pkg/web/cairn_wasm.js';
import initExtrasWasm, * as extrasGlue from '../pkg/web/cairn_wasm_extras.js';
import initHandleWasm, * as handleGlue from '../pkg/web/cairn_wasm_handle.js';

export {
  verifyToken,
  verifyTokens,
  verifyManifest,
  verifyCheckpoint,
  verifyEnvelope,
  verifySignature,
  verifySignatures,
  keyId,
  errorCodes,
  ArtifactHasher,
  initSync,
} from '../pkg/web/cairn_wasm.js';

/** The verifier backend: always the WebAssembly module in browsers. */
export function backend() {
  return 'wasm';
}

let ready = null;

/** Loads the WebAssembly module once; later calls return the same promise. */
export function init(source) {
  if (!ready) {
    ready = initWasm(source === undefined ? undefined : { module_or_path: source }).then(
      () => undefined,
      (err) => {
        ready = null;
        throw err;
      },
    );
  }
  return ready;
}

export default init;

let extrasReady = null;
let extrasLoaded = false;

/** Loads the second module (inspect, blux-reg, cosignatures, revocation proofs, Merkle proofs, trust-root chains, ledger entries...) once; later calls return the same promise. */
export function initExtras(source) {
  if (!extrasReady) {
    extrasReady = initExtrasWasm(source === undefined ? undefined : { module_or_path: source }).then(
      () => {
        extrasLoaded = true;
      },
      (err) => {
        extrasReady = null;
        throw err;
      },
    );
  }
  return extrasReady;
}

let handleReady = null;
let handleLoaded = false;

/** Loads the third module (the handle registry's client side: envelopes, proof of work) once; later calls return the same promise. */
export function initHandle(source) {
  if (!handleReady) {
    handleReady = initHandleWasm(source === undefined ? undefined : { module_or_path: source }).then(
      () => {
        handleLoaded = true;
      },
      (err) => {
        handleReady = null;
        throw err;
      },
    );
  }
  return handleReady;
}

function handleFn(name) {
  return (...args) => {
    if (!handleLoaded) {
      const err = new Error(`${name} is in cairn-verify's handle module: await initHandle() first`);
      err.code = 'ERR_CAIRN_HANDLE_NOT_LOADED';
      throw err;
    }
    return handleGlue[name](...args);
  };
}

function extra(name) {
  return (...args) => {
    if (!extrasLoaded) {
      // A usage error (like calling a verifier before init()), not a verdict: no CairnError.
      const err = new Error(`${name} is in cairn-verify's second module: await initExtras() first`);
      err.code = 'ERR_CAIRN_EXTRAS_NOT_LOADED';
      throw err;
    }
    return extrasGlue[name](...args);
  };
}

/**
 * Verifies a bundle (the main module's verifyBundle). With `options.witnesses` (k-of-n
 * cosignatures on its checkpoint), the second module checks the witness options first and the
 * cosignatures after, as the native addon does in one call: `await initExtras()` first.
 */
export function verifyBundle(bundle, trustedRoot, options) {
  let witnesses = null;
  try {
    witnesses = options !== null && typeof options === 'object' ? options.witnesses : null;
  } catch {
    // An options object that throws on reading: the main module reports it (malformed).
  }
  if (witnesses === undefined || witnesses === null) return wasm.verifyBundle(bundle, trustedRoot, options);
  if (!extrasLoaded) {
    const err = new Error("verifyBundle with witnesses uses cairn-verify's second module: await initExtras() first");
    err.code = 'ERR_CAIRN_EXTRAS_NOT_LOADED';
    throw err;
  }
  extrasGlue.__checkBundleWitnessOptions(options);
  const v = wasm.verifyBundle(bundle, trustedRoot, options);
  v.witnessed = extrasGlue.__bundleWitnesses(bundle, options);
  return v;
}

export const verifyInclusion = extra('verifyInclusion');
export const verifyConsistency = extra('verifyConsistency');
export const merkleRoot = extra('merkleRoot');
export const verifyTrustRootChain = extra('verifyTrustRootChain');
export const verifyLedgerEntry = extra('verifyLedgerEntry');
export const verifyLedgerChain = extra('verifyLedgerChain');
export const inspect = extra('inspect');
export const bluxVerifyToken = extra('bluxVerifyToken');
export const bluxVerifyManifest = extra('bluxVerifyManifest');
export const bluxVerifyLedger = extra('bluxVerifyLedger');
export const bluxCanonicalJson = extra('bluxCanonicalJson');
export const verifyExport = extra('verifyExport');
export const verifyFromTiles = extra('verifyFromTiles');
export const verifyKeyRequest = extra('verifyKeyRequest');
export const verifyKeyResponse = extra('verifyKeyResponse');
export const verifyCosignatures = extra('verifyCosignatures');
export const verifyWitnessedCheckpoint = extra('verifyWitnessedCheckpoint');
export const detectSplitView = extra('detectSplitView');
export const revocationMapKey = extra('revocationMapKey');
export const revocationMapRoot = extra('revocationMapRoot');
export const verifyNotRevoked = extra('verifyNotRevoked');
export const verifyRevoked = extra('verifyRevoked');
export const parseRevocationsLine = extra('parseRevocationsLine');
export const refreshBundle = extra('refreshBundle');
export const normaliseHandle = handleFn('normaliseHandle');
export const handleBlindIndex = handleFn('handleBlindIndex');
export const envelopeKey = handleFn('envelopeKey');
export const sealEnvelope = handleFn('sealEnvelope');
export const openEnvelope = handleFn('openEnvelope');
export const issuePowChallenge = handleFn('issuePowChallenge');
export const solvePow = handleFn('solvePow');
export const verifyPowSolution = handleFn('verifyPowSolution');

/** Files up to this size are hashed with WebCrypto in one piece; larger ones are streamed. */
export const WEBCRYPTO_MAX_BYTES = 256 * 1024 * 1024;

const CHUNK = 8 * 1024 * 1024;

function hex(buffer) {
  const b = new Uint8Array(buffer);
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, '0');
  return s;
}

function checkAbort(signal) {
  if (signal && signal.aborted) {
    throw signal.reason ?? new DOMException('hashing aborted', 'AbortError');
  }
}

/** What the whole WebCrypto path needs in one piece, or null when it cannot be had. */
function wholeBuffer(total) {
  try {
    return new Uint8Array(total);
  } catch {
    return null; // RangeError: memory a small device will not give; the stream needs none
  }
}

/** A value for an error message: a number as itself, anything else by its type. */
function describe(v) {
  return v === null ? 'null' : typeof v === 'number' ? String(v) : typeof v;
}

/** A CairnError `malformed` (class `error`), as the verifiers throw for a wrong argument. */
function malformed(message) {
  return Object.assign(new Error(message), { name: 'CairnError', code: 'malformed', class: 'error' });
}

/**
 * SHA-256 and length of a Blob or File (bytes, a typed array or ArrayBuffer, are taken as
 * one), read in `File.slice` chunks so progress can be shown. Up to WEBCRYPTO_MAX_BYTES (and
 * when WebCrypto is available and the memory can be had) the chunks are gathered and
 * digested by WebCrypto; beyond that they stream through the wasm ArtifactHasher, so memory
 * stays at one chunk. `onProgress(done, total)` is called after each chunk. Anything else,
 * and a `chunkSize` that is not a positive safe integer (a fraction would skip or repeat
 * bytes, NaN read nothing, 0 or less never end), is a CairnError `malformed`.
 */
export async function hashBlob(blob, options = {}) {
  const { onProgress, signal, chunkSize = CHUNK, forceStreaming = false } = options;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw malformed(`hashBlob: chunkSize must be a positive safe integer, got ${describe(chunkSize)}`);
  }
  if (blob instanceof ArrayBuffer || ArrayBuffer.isView(blob)) blob = new Blob([blob]);
  if (!blob || typeof blob.size !== 'number' || typeof blob.slice !== 'function') {
    throw malformed(`hashBlob: expected a Blob, a File or bytes, got ${blob === null ? 'null' : typeof blob}`);
  }
  const total = blob.size;
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  const all = subtle && !forceStreaming && total <= WEBCRYPTO_MAX_BYTES ? wholeBuffer(total) : null;
  if (all) {
    for (let at = 0; at < total; at += chunkSize) {
      checkAbort(signal);
      const part = new Uint8Array(await blob.slice(at, at + chunkSize).arrayBuffer());
      all.set(part, at);
      if (onProgress) onProgress(at + part.length, total);
    }
    if (onProgress && total === 0) onProgress(0, 0);
    const digest = await subtle.digest('SHA-256', all);
    return { algorithm: 'sha256', digest: hex(digest), size: total };
  }
  await init();
  const hasher = new wasm.ArtifactHasher();
  try {
    for (let at = 0; at < total; at += chunkSize) {
      checkAbort(signal);
      hasher.update(new Uint8Array(await blob.slice(at, at + chunkSize).arrayBuffer()));
      if (onProgress) onProgress(Math.min(at + chunkSize, total), total);
    }
    if (onProgress && total === 0) onProgress(0, 0);
    return hasher.digest();
  } finally {
    hasher.free();
  }
}
