// Node entry point (ES module). It shares the CommonJS instance, so a process that loads the
// package both ways holds one WebAssembly module, not two.
import cairn from './node.cjs';

export const {
  // verifiers (WebAssembly)
  verifyBundle,
  verifyToken,
  verifyManifest,
  verifyCheckpoint,
  verifyInclusion,
  verifyConsistency,
  merkleRoot,
  verifyTrustRootChain,
  verifyLedgerEntry,
  verifyLedgerChain,
  verifyEnvelope,
  verifySignature,
  keyId,
  bluxVerifyToken,
  bluxVerifyManifest,
  bluxVerifyLedger,
  bluxCanonicalJson,
  inspect,
  errorCodes,
  // hashing: node:crypto, and the wasm hasher
  ArtifactHasher,
  WasmArtifactHasher,
  hashFile,
  hashBytes,
} = cairn;
