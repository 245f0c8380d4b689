// Node entry point (ES module). It shares the CommonJS instance, so a process that loads the
// package both ways holds one backend (native addon or WebAssembly module), not two.
import cairn from './node.cjs';

export const {
  // verifiers (native addon or WebAssembly)
  verifyBundle,
  verifyToken,
  verifyTokens,
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
  verifySignatures,
  keyId,
  bluxVerifyToken,
  bluxVerifyManifest,
  bluxVerifyLedger,
  bluxCanonicalJson,
  verifyExport,
  verifyFromTiles,
  verifyKeyRequest,
  verifyKeyResponse,
  inspect,
  errorCodes,
  backend,
  // hashing: node:crypto, and the wasm hasher
  ArtifactHasher,
  WasmArtifactHasher,
  hashFile,
  hashBytes,
} = cairn;
