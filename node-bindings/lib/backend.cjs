'use strict';
// Picks the verifier backend for this process: the native addon (napi-rs, the optional
// dependency `cairn-verify-<platform>`) when one loads for this platform, the WebAssembly
// module otherwise. Both expose the same functions, results and error codes.
// CAIRN_VERIFY_BACKEND=native|wasm forces one (native fails loudly when it cannot load).
const { join } = require('node:path');

/** napi-rs platform triples this process could use, most likely first. */
function triples() {
  const { platform, arch } = process;
  if (platform === 'linux') return [`linux-${arch}-gnu`, `linux-${arch}-musl`];
  if (platform === 'win32') return [`win32-${arch}-msvc`];
  return [`${platform}-${arch}`];
}

function loadNative() {
  const errors = [];
  for (const t of triples()) {
    // The installed platform package, then a build in this repository
    // (scripts/build-native.sh puts it in node-bindings/npm/<triple>/).
    for (const id of [`cairn-verify-${t}`, join(__dirname, '..', 'npm', t, `cairn-verify.${t}.node`)]) {
      try {
        return { addon: require(id), errors };
      } catch (e) {
        errors.push(`${id}: ${e.code || e.message}`);
      }
    }
  }
  return { addon: null, errors };
}

function select() {
  const forced = process.env.CAIRN_VERIFY_BACKEND;
  if (forced !== undefined && forced !== '' && forced !== 'native' && forced !== 'wasm') {
    throw new Error(`CAIRN_VERIFY_BACKEND must be "native" or "wasm", not ${JSON.stringify(forced)}`);
  }
  if (forced !== 'wasm') {
    const { addon, errors } = loadNative();
    if (addon) return { name: 'native', api: addon };
    if (forced === 'native') {
      throw new Error(`CAIRN_VERIFY_BACKEND=native, but no native addon loads here:\n  ${errors.join('\n  ')}`);
    }
  }
  return { name: 'wasm', api: wasmApi() };
}

/** The WebAssembly backend: the main module now, the second one (inspect, blux-reg, tiles,
 * peer keys, exports, witness cosignatures, revocation-map proofs, Merkle proofs, trust-root
 * chains and ledger entries on their own) at the first call of one of its functions. Both hand Ed25519's equation
 * to node:crypto. */
/** The third wasm module's functions (the native addon has them with the rest). */
const HANDLE_FUNCTIONS = ['normaliseHandle', 'handleBlindIndex', 'envelopeKey', 'sealEnvelope', 'openEnvelope',
  'issuePowChallenge', 'solvePow', 'verifyPowSolution'];

function wasmApi() {
  const main = require('../pkg/node/cairn_wasm.js');
  if (process.env.CAIRN_VERIFY_ED25519 !== 'wasm') useNodeEd25519(main);
  let extras = null;
  const loadExtras = () => {
    if (!extras) {
      extras = require('../pkg/node/cairn_wasm_extras.js');
      // The second module checks Ed25519 too (key responses, exports, tiles).
      if (process.env.CAIRN_VERIFY_ED25519 !== 'wasm') useNodeEd25519(extras);
    }
    return extras;
  };
  const extra = (name) =>
    function (...args) {
      return loadExtras()[name](...args);
    };
  const api = { ...main };
  api.verifyBundle = withWitnesses(main.verifyBundle, loadExtras);
  for (const name of ['inspect', 'bluxVerifyToken', 'bluxVerifyManifest', 'bluxVerifyLedger', 'bluxCanonicalJson', 'verifyExport', 'verifyFromTiles', 'verifyKeyRequest', 'verifyKeyResponse',
    'verifyCosignatures', 'verifyWitnessedCheckpoint', 'detectSplitView', 'revocationMapKey', 'revocationMapRoot',
    'verifyNotRevoked', 'verifyRevoked', 'parseRevocationsLine', 'refreshBundle',
    'verifyInclusion', 'verifyConsistency', 'merkleRoot', 'verifyTrustRootChain', 'verifyLedgerEntry', 'verifyLedgerChain']) {
    api[name] = extra(name);
  }
  // The third module: the handle registry's client side, at the first call of one of them.
  let handle = null;
  const loadHandle = () => (handle ??= require('../pkg/node/cairn_wasm_handle.js'));
  for (const name of HANDLE_FUNCTIONS) {
    api[name] = function (...args) {
      return loadHandle()[name](...args);
    };
  }
  return api;
}

/**
 * `verifyBundle` with its witness options on the wasm backend: the k-of-n cosignature check
 * lives in the second module (the main one's size is budgeted), so when `options.witnesses` is
 * given the options are checked there first, the main module verifies the bundle, and the
 * second module's verdict on the checkpoint's cosignatures fills `witnessed` — the order, codes
 * and result of the native addon's one call. lib/web.js does the same in browsers.
 */
function withWitnesses(verifyBundle, loadExtras) {
  return function (bundle, trustedRoot, options) {
    let witnesses = null;
    try {
      witnesses = options !== null && typeof options === 'object' ? options.witnesses : null;
    } catch {
      // An options object that throws on reading: the main module reports it (malformed).
    }
    if (witnesses === undefined || witnesses === null) return verifyBundle(bundle, trustedRoot, options);
    const extras = loadExtras();
    extras.__checkBundleWitnessOptions(options);
    const v = verifyBundle(bundle, trustedRoot, options);
    v.witnessed = extras.__bundleWitnesses(bundle, options);
    return v;
  };
}

/**
 * Ed25519 through node:crypto on the wasm backend, for a key's first use: the module checks
 * cairn's encoding rules (canonical, non-small-order A and R, S < L) and asks this function for
 * the equation only, which OpenSSL computes a little faster than ed25519-dalek in wasm; a key
 * seen again is prepared inside the module and never reaches this function (wasm/src/host.rs,
 * faster than both). The function is handed to the module instance, not published anywhere; a
 * throw makes the module use ed25519-dalek. CAIRN_VERIFY_ED25519=wasm keeps a key's first uses
 * with dalek (prepared keys are used either way).
 */
let hostEd25519Calls = 0;
function useNodeEd25519(main) {
  const crypto = require('node:crypto');
  const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
  const keys = new Map();
  main.__useHostEd25519((pk, msg, sig) => {
    hostEd25519Calls++;
    const id = Buffer.from(pk.buffer, pk.byteOffset, 32).toString('latin1');
    let key = keys.get(id);
    if (!key) {
      key = crypto.createPublicKey({ key: Buffer.concat([SPKI, pk]), format: 'der', type: 'spki' });
      if (keys.size >= 1024) keys.clear();
      keys.set(id, key);
    }
    return crypto.verify(null, msg, key, sig);
  });
}

/** How many Ed25519 equations node:crypto has decided in this process (for the tests). */
const hostEd25519CallCount = () => hostEd25519Calls;

module.exports = { ...select(), wasmApi, hostEd25519CallCount, withWitnesses };
