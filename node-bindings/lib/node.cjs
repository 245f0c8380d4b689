'use strict';
// Node entry point (CommonJS). The verifiers come from the native addon when one exists for
// this platform, from the WebAssembly module otherwise (lib/backend.cjs; backend() says
// which). Artifact hashing uses node:crypto, which is faster than either and streams from disk.
const { name, api } = require('./backend.cjs');
const { ArtifactHasher, hashFile, hashBytes } = require('./hash-node.cjs');

const { backend: _nativeName, ArtifactHasher: BackendHasher, ...exported } = api;
// Names starting with __ are the backends' internals, not API.
const verifiers = Object.fromEntries(Object.entries(exported).filter(([k]) => !k.startsWith('__')));

module.exports = {
  ...verifiers,
  /** Which verifier backend this process uses: 'native' or 'wasm'. */
  backend: () => name,
  /** cairn-core's streaming SHA-256 in the backend (same interface as ArtifactHasher). */
  WasmArtifactHasher: BackendHasher,
  ArtifactHasher,
  hashFile,
  hashBytes,
};
