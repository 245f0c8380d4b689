'use strict';
// Node entry point (CommonJS). The verifiers come from the WebAssembly module; artifact
// hashing uses node:crypto, which is faster than hashing inside wasm and streams from disk.
const wasm = require('../pkg/node/cairn_wasm.js');
const { ArtifactHasher, hashFile, hashBytes } = require('./hash-node.cjs');

module.exports = {
  ...wasm,
  /** The streaming SHA-256 of the wasm module (same interface as ArtifactHasher). */
  WasmArtifactHasher: wasm.ArtifactHasher,
  ArtifactHasher,
  hashFile,
  hashBytes,
};
