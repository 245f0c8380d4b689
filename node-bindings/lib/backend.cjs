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

/** The WebAssembly backend: the main module now, the second one (inspect, blux-reg) at the
 * first call of one of its functions. */
function wasmApi() {
  const main = require('../pkg/node/cairn_wasm.js');
  let extras = null;
  const extra = (name) =>
    function (...args) {
      if (!extras) extras = require('../pkg/node/cairn_wasm_extras.js');
      return extras[name](...args);
    };
  const api = { ...main };
  for (const name of ['inspect', 'bluxVerifyToken', 'bluxVerifyManifest', 'bluxVerifyLedger', 'bluxCanonicalJson']) {
    api[name] = extra(name);
  }
  return api;
}

module.exports = select();
