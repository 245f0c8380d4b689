/** Binary input: a Uint8Array (a Node Buffer is one) or an ArrayBuffer; a string is taken as its UTF-8 bytes. */
export type BytesInput = Uint8Array | ArrayBuffer | string;

/** A signature algorithm name. */
export type Algorithm =
  | "ed25519"
  | "ml-dsa-44"
  | "ml-dsa-65"
  | "ed25519+ml-dsa-44"
  | "ed25519+ml-dsa-65"
  | "dilithium2-r3"
  | "dilithium3-r3";

/**
 * A public key: `-----BEGIN PUBLIC KEY-----` PEM text, SubjectPublicKeyInfo DER bytes, or an
 * object with the algorithm and the raw key (bytes or standard base64). `{alg, key}` (cairn's
 * JSON form) is accepted as well.
 */
export type KeyInput =
  | string
  | Uint8Array
  | { algorithm: Algorithm; publicKey: Uint8Array | string }
  | { alg: Algorithm; key: Uint8Array | string };

/** One key or a list of keys (at most 256). */
export type KeysInput = KeyInput | KeyInput[];

/**
 * The current time for validity checks: Unix seconds (number or bigint) or a Date. When left
 * out, the clock of the JavaScript host is read.
 */
export type TimeInput = number | bigint | Date | undefined | null;

/** A count or size: a number, a bigint, or decimal text for values past 2^53. */
export type IntegerInput = number | bigint | string;

/** Stable reason of a failure (cairn-core's ErrorCode). */
export type ErrorCode =
  | "malformed"
  | "too_large"
  | "unsupported_version"
  | "unsupported_algorithm"
  | "invalid_key"
  | "signature_invalid"
  | "unknown_key"
  | "threshold_not_met"
  | "domain_mismatch"
  | "expired"
  | "not_yet_valid"
  | "revoked"
  | "proof_invalid"
  | "chain_broken"
  | "delegation_invalid"
  | "digest_mismatch"
  | "unauthorized"
  | "key_mismatch"
  | "replayed"
  | "key_changed"
  | "split_view"
  | "stale";

/**
 * What a failure means: "invalid" when the input was read and is not valid (a bad signature,
 * a revoked token; the CLI's exit status 1), "error" when it could not be checked at all
 * (malformed, too large, an unsupported version or algorithm; exit status 2).
 */
export type ErrorClass = "invalid" | "error";

/** What every export throws on failure: `name` is "CairnError", `message` the detail. */
export interface CairnError extends Error {
  name: "CairnError";
  code: ErrorCode;
  class: ErrorClass;
}

/** A SHA-256 digest: 32 bytes, 64 hex characters (optionally "sha256:"-prefixed), or base64. */
export type DigestInput = Uint8Array | string;

/**
 * An artifact to check: its bytes (hashed in bounded pieces, any size), or a digest computed
 * elsewhere, e.g. by `hashFile`, `hashBlob` or `ArtifactHasher.digest()`.
 */
export type ArtifactInput =
  | Uint8Array
  | ArrayBuffer
  | { algorithm?: "sha256"; digest: DigestInput; size: IntegerInput }
  | { sha256: DigestInput; size: IntegerInput };

/** SHA-256 and length of an artifact. */
export interface ArtifactDigest {
  algorithm: "sha256";
  /** Lowercase hex. */
  digest: string;
  size: number;
}

/** Result of `verifySignature`. */
export interface SignatureVerification {
  valid: true;
  algorithm: Algorithm;
  /** Hex SHA-256 over the algorithm id and the public key. */
  key_id: string;
}

/** One item of `verifySignatures`. */
export interface SignatureItemInput {
  publicKey: KeyInput;
  message: BytesInput;
  signature: Uint8Array | string;
  /** FIPS 204 context (ML-DSA only). */
  context?: BytesInput;
}

/** Result of `verifySignatures`. */
export interface SignaturesVerification {
  valid: true;
  count: number;
  /** Each item's key id, in order. */
  signers: string[];
}

/** Result of `keyId`. */
export interface KeyInfo {
  algorithm: Algorithm;
  /** Hex SHA-256 over the algorithm id byte and the raw public key. */
  key_id: string;
  /** Raw key length in bytes. */
  size: number;
}

/** One signature of an envelope, as read (not verified). */
export interface EnvelopeSignatureView {
  key_id: string;
  /** Signature length in bytes. */
  size: number;
  /** Algorithms whose signatures have this length (a display hint only). */
  algorithms: Algorithm[];
}

/** A DSSE envelope, decoded but not verified. */
export interface EnvelopeView {
  kind: "envelope";
  /** Hex SHA-256 of the compact form: the envelope's identity (a token's id). */
  id: string;
  payload_type: string;
  payload_size: number;
  /** Standard base64 of the payload. */
  payload: string;
  signatures: EnvelopeSignatureView[];
}

/** Result of `verifyEnvelope`. */
export interface EnvelopeVerification extends EnvelopeView {
  valid: true;
  /** Hex key ids of the distinct keys whose signatures verified, in envelope order. */
  signers: string[];
}

/** A constraint of a token. */
export type ConstraintView =
  | { max: number }
  | { one_of: string[] }
  | { prefix: string }
  | { [kind: string]: unknown };

/** The claims of a capability token. */
export interface TokenClaims {
  version: number;
  /** Key id of the issuer (the signer of this link). */
  issuer: string;
  audience: string;
  /** The holder's key in cairn's JSON form. */
  holder: { alg: Algorithm; key: string } | null;
  holder_key_id: string;
  capabilities: string[];
  constraints: Record<string, ConstraintView>;
  not_before: number;
  expires_at: number;
  nonce: string;
  [field: string]: unknown;
}

/** Options of `verifyToken`. */
export interface TokenOptions {
  /** The token's ancestors, root token first, immediate parent last. */
  parents?: BytesInput[];
  now?: TimeInput;
  /** Revoked token ids (hex or bytes): the token or any ancestor listed is `revoked`. */
  revoked?: DigestInput[];
  /** The audience the relying party expects (`domain_mismatch` otherwise). */
  audience?: string;
  /** A capability the token must grant (`unauthorized` otherwise). */
  capability?: string;
}

/** Result of `verifyToken`. */
export interface TokenVerification {
  valid: true;
  /** The token id: hex SHA-256 of its compact envelope. */
  id: string;
  /** Ancestor ids, root first. */
  chain_ids: string[];
  /** Key id of the trusted key that issued the root of the chain. */
  issuer: string;
  claims: TokenClaims;
}

/** One item of `verifyTokens`: the token, or the token with its delegation parents. */
export type TokenItemInput = BytesInput | { token: BytesInput; parents?: BytesInput[] };

/** Options of `verifyTokens` (those of `verifyToken`; parents go with each token). */
export type TokensOptions = Omit<TokenOptions, 'parents'>;

/** Result of `verifyTokens`. */
export interface TokensVerification {
  valid: true;
  count: number;
  /** Each token's verification, in order. */
  tokens: TokenVerification[];
}

/** The claims of an artifact manifest. */
export interface ManifestClaims {
  version: number;
  name: string;
  size: number;
  /** Hex SHA-256 of the artifact. */
  sha256: string;
  media_type: string;
  metadata: Record<string, string> | [string, string][];
  created_at: number;
  [field: string]: unknown;
}

/** Options of `verifyManifest`. */
export interface ManifestOptions {
  /** Distinct trusted signers required (default 1). */
  threshold?: IntegerInput;
  /** The artifact to compare with the manifest (size first, then SHA-256). */
  artifact?: ArtifactInput;
}

/** Result of `verifyManifest`. */
export interface ManifestVerification {
  valid: true;
  /** The manifest's identity: hex SHA-256 of PAE(payloadType, payload). */
  digest: string;
  /** Key ids of the distinct trusted signers, in envelope order. */
  signers: string[];
  claims: ManifestClaims;
  /** Whether an artifact was compared (false: signatures and claims only). */
  artifact_checked: boolean;
}

/** A trusted checkpoint signer: the key name of its note lines and its key. */
export type CheckpointVerifierInput =
  | { name: string; key: KeyInput }
  | { name: string; algorithm: Algorithm; publicKey: Uint8Array | string };

/** What a checkpoint must satisfy. */
export interface CheckpointPolicyInput {
  /** The origin line the checkpoint must carry. */
  origin: string;
  /** Distinct signers required (default 1). */
  threshold?: IntegerInput;
  /** Key ids that must be among the signers. */
  required?: DigestInput[];
}

/** Result of `verifyCheckpoint`. */
export interface CheckpointVerification {
  valid: true;
  origin: string;
  size: number;
  /** Hex Merkle root at that size. */
  root: string;
  extensions: string[];
  /** Key ids of the verifiers whose every line verified, in verifier order. */
  signers: string[];
}

/** Options of `verifyKeyRequest` and `verifyKeyResponse`. */
export interface PeerOptions {
  /** Unix seconds; default: the clock. */
  now?: IntegerInput;
  /** Largest accepted difference between the message's timestamp and `now`, in seconds (default 300). */
  maxSkew?: IntegerInput;
}

/** The trust root of one peer's own registry, whose log vouches for that peer's keys. */
export interface PeerLogRoot {
  /** The peer's id. */
  peer: string;
  /** Its registry's trust root (signed envelope). */
  root: BytesInput;
}

/** Options of `verifyKeyResponse`: the peer options, and who may vouch for the responder's key. Naming any of
 * `bootstrapRoot`, `logRoots` (even empty), `pinnedKeyId`, `trustOnFirstUse`, `maxAge` asks for the vouching decision: a
 * key nothing vouches for is then an error (`unauthorized`). */
export interface KeyResponseOptions extends PeerOptions {
  /** A trust root (signed envelope) whose `peer`-role keys pin bootstrap peers, labelled with their peer ids. */
  bootstrapRoot?: BytesInput;
  /** The peers' own registries' logs: each trust root (signed envelope) vouches, through a key-transparency bundle,
   * for the keys of the one peer named with it, and for no other peer. */
  logRoots?: PeerLogRoot[];
  /** The key id (hex) already pinned for the responder: another key is refused with `key_changed`. */
  pinnedKeyId?: string;
  /** Accept the first key of a peer nothing else vouches for (default false). */
  trustOnFirstUse?: boolean;
  /** A transparency checkpoint must carry both an Ed25519 and an ML-DSA signature (default true). */
  requireHybridCheckpoint?: boolean;
  /** The oldest transparency checkpoint accepted, in seconds before `now` (its time is its newest entry's): older is
   * `stale`, and so is a version 1 bundle, which carries no checkpoint time (one under a checkpoint that commits to a
   * revocation map is `proof_invalid` whatever the policy). Default: no limit. */
  maxAge?: IntegerInput;
}

/** Which rule vouched for a peer's key. */
export interface PeerVouch {
  rule: 'bootstrap' | 'pinned' | 'transparency' | 'first_use';
  key_id: string;
  /** For `transparency`: the checkpoint (origin, size) and the ledger entry (seq) that record the key. */
  logged_at: { origin: string; size: number; seq: number } | null;
  /** For `transparency` through a version 2 bundle: the checkpoint's time (unix seconds), as of which the key is
   * proven not revoked in the peer's log; null otherwise. */
  not_revoked_as_of: number | null;
}

/** Result of `verifyKeyRequest`. */
export interface KeyRequestVerification {
  valid: true;
  requester_id: string;
  responder_id: string;
  requester_key_id: string;
  timestamp: number;
  nonce: number;
}

/** Result of `verifyKeyResponse`. */
export interface KeyResponseVerification {
  valid: true;
  responder_id: string;
  requester_id: string;
  /** Id of the responder's signing key. */
  key_id: string;
  algorithm: Algorithm;
  /** The signing key (base64). */
  signing_key: string;
  /** The ML-KEM-768 encapsulation key (base64), checked per FIPS 203. */
  kem_key: string;
  kem_key_sha256: string;
  /** The nonce of the request this answers. */
  request_nonce: number;
  timestamp: number;
  nonce: number;
  /** True when the response came as a bundle (a key-transparency proof to check against a trusted log). */
  has_proof: boolean;
  /** Which rule vouched for the key, when the options asked; null otherwise. */
  vouch: PeerVouch | null;
}

/** What `verifyFromTiles` proves beside the checkpoint. */
export interface TilesRequest {
  /** An entry to read from its entry bundle and prove included. */
  entry?: IntegerInput;
  /** An older checkpoint note of the same log to prove the new one consistent with. */
  oldCheckpoint?: BytesInput;
}

/** One fetched tile: its path below the log's prefix and the bytes served there. */
export interface TileInput {
  path: string;
  data: BytesInput;
}

/** `verifyFromTiles` when tiles are missing: fetch these paths and call again. */
export interface TilesMissing {
  complete: false;
  missing: string[];
}

/** `verifyFromTiles` when every tile was there and everything verified. */
export interface TilesVerification extends CheckpointVerification {
  complete: true;
  entry?: {
    index: number;
    /** The entry's bytes (base64), proven to be the log's. */
    bytes: string;
    leaf_hash: string;
    proof: string[];
    /** The entry decoded when it is a cairn ledger entry, else null. */
    ledger_entry: LedgerEntryView | null;
  };
  consistency?: { old_size: number; old_root: string; proof: string[] };
}

/** Result of `verifyInclusion`. */
export interface InclusionVerification {
  valid: true;
  index: number;
  tree_size: number;
  root: string;
}

/** Result of `verifyConsistency`. */
export interface ConsistencyVerification {
  valid: true;
  old_size: number;
  new_size: number;
}

/** Result of `merkleRoot`. */
export interface MerkleRoot {
  /** Hex RFC 6962 root (SHA-256 of "" for no leaves). */
  root: string;
  size: number;
  /** Hex SHA-256(0x00 ‖ leaf) of each leaf. */
  leaf_hashes: string[];
}

/** A key of a trust root. */
export interface TrustedKeyView {
  key_id: string;
  algorithm: Algorithm;
  /** Raw public key, standard base64 (with `algorithm`, a KeyInput). */
  public_key: string;
  label: string;
  roles: ("root" | "checkpoint" | "token-issuer" | "manifest-signer" | "peer")[];
  not_before: number;
  not_after: number | null;
}

/** A trust root version. */
export interface TrustRootView {
  version: number;
  root_id: string;
  origin: string;
  issued_at: number;
  expires_at: number;
  previous: string | null;
  keys: TrustedKeyView[];
  thresholds: Record<"root" | "checkpoint" | "token-issuer" | "manifest-signer" | "peer", number>;
}

/** Result of `verifyTrustRootChain`: the newest version reached. */
export interface TrustRootVerification extends TrustRootView {
  valid: true;
}

/** A ledger entry. */
export interface LedgerEntryView {
  seq: number;
  time: number;
  /** Event kind, e.g. "key_added", "token_issued", "manifest_signed". */
  kind: string;
  /** Hex SHA-256 of the entry bytes (the next entry's prev_hash). */
  entry_hash: string;
  /** Hex RFC 6962 Merkle leaf hash of the entry bytes (what inclusion proofs are about). */
  leaf_hash: string;
  prev_hash: string;
  /** The event as cairn-core serialises it. */
  event: unknown;
}

/** Result of `verifyLedgerEntry`. */
export interface LedgerEntryVerification extends LedgerEntryView {
  valid: true;
}

/** Where a verified ledger chain ends. */
export interface ChainHeadInput {
  next_seq: IntegerInput;
  head_hash: DigestInput;
  last_time: IntegerInput;
}

/** Result of `verifyLedgerChain`. */
export interface LedgerChainVerification {
  valid: true;
  next_seq: number;
  head_hash: string;
  last_time: number;
}

/** Options of `verifyBundle`. */
export interface BundleOptions {
  now?: TimeInput;
  /** For a manifest bundle: the artifact (bytes or digest). */
  artifact?: ArtifactInput;
  /** Revoked token ids known to the verifier. */
  revoked?: DigestInput[];
  /** For a token bundle: the audience expected. */
  audience?: string;
  /** For a token bundle: a capability it must grant. */
  capability?: string;
  /** Require both an Ed25519 and an ML-DSA checkpoint signature (default true). */
  requireHybridCheckpoint?: boolean;
  /**
   * The newest checkpoint this verifier accepted before (a checkpoint note, signed or its bare
   * three-line text; not verified again). A smaller checkpoint is refused (`replayed`), one of
   * the same size with another root is a split view (`proof_invalid`), a note of another log
   * is `domain_mismatch`. Not together with `minSize`.
   */
  lastSeen?: string | Uint8Array;
  /** Refuse a checkpoint of fewer entries (`replayed`). Not together with `lastSeen`. */
  minSize?: number | bigint;
  /**
   * Refuse a checkpoint older than this many seconds (`stale`). A version 2 bundle dates its
   * checkpoint by the checkpoint's newest entry; a version 1 bundle has no such time and is
   * refused whenever `maxAge` is given.
   */
  maxAge?: number | bigint;
  /**
   * Witnesses whose cosignatures the bundle's checkpoint must carry (C2SP tlog-cosignature):
   * cosigner vkeys (`name+keyid+base64(type ‖ key)`, as `cairn witness init` writes them) or
   * `{name, vkey}`. As `cairn bundle verify --witness-key`: `witnessQuorum` of them must have
   * cosigned (`threshold_not_met`; `stale` when only cosignatures older than `witnessMaxAge`
   * are missing). The verdict's `witnessed` reports which did. An empty list is `malformed`
   * (it names no witness): leave it out for no witness check.
   */
  witnesses?: WitnessInput[];
  /** How many of `witnesses` must have cosigned (default: all of them). */
  witnessQuorum?: number | bigint;
  /** Oldest cosignature that counts, in seconds before `now` (default: any age). */
  witnessMaxAge?: number | bigint;
  /** Latest cosignature timestamp that counts, in seconds after `now` (default 300). */
  witnessMaxFutureSkew?: number | bigint;
}

/** A signer named by a bundle verdict. */
export interface SignerView {
  key_id: string;
  /** Empty for a delegating holder (authorised by its parent token, not the trust root). */
  algorithm: Algorithm | "";
  label: string;
  roles: string[];
}

/** Result of `verifyBundle`. */
export interface BundleVerification {
  valid: true;
  kind: "token" | "manifest";
  /** Token id or manifest digest (hex). */
  subject_id: string;
  signers: SignerView[];
  checkpoint: { origin: string; size: number; root: string; signers: SignerView[] };
  entry: { seq: number; time: number };
  trust_root: { version: number; id: string; matches_bundle: boolean };
  /** The checks performed, in order. */
  checks: string[];
  token: { id: string; chain_ids: string[]; issuer: string; claims: TokenClaims } | null;
  manifest: { digest: string; signers: string[]; claims: ManifestClaims } | null;
  /**
   * A version 2 bundle: the subject, its signers' keys and a token's ancestors are absent from
   * the revocation map of the checkpoint of `size` (holding `revocations` objects, root `root`),
   * dated `time` (its newest entry's). Nothing about revocations after it. `null` for version 1.
   */
  not_revoked_as_of: {
    size: number;
    revocations: number;
    root: string;
    time: number;
    objects: { kind: "key" | "token" | "manifest"; id: string }[];
  } | null;
  artifact_checked: boolean;
  /** The witnesses' verdict when `options.witnesses` was given (its quorum is met), else null. */
  witnessed: WitnessVerdict | null;
}

/** A witness a verifier trusts: its cosigner vkey, or `{name, vkey}` to report it as `name` (default: the vkey's key name). */
export type WitnessInput = string | { name?: string; vkey: string };

/** A k-of-n witness policy and the time it is applied at. */
export interface WitnessPolicyInput {
  /** The trusted witnesses (1 to 64; distinct names and keys; an empty list is `malformed`). */
  witnesses: WitnessInput[];
  /** How many must have cosigned (default: all of them; 0 requires none). */
  quorum?: number | bigint;
  now?: TimeInput;
  /** Oldest cosignature that counts, in seconds before `now` (default: any age). */
  maxAge?: number | bigint;
  /** Latest cosignature timestamp that counts, in seconds after `now` (default 300). */
  maxFutureSkew?: number | bigint;
}

/** Which witnesses cosigned a checkpoint (the same view as `cairn bundle verify --json`'s `witnessed`). */
export interface WitnessVerdict {
  quorum: number;
  /** Cosignatures that counted toward the quorum. */
  counted: number;
  quorum_met: boolean;
  /** The policy's witnesses whose cosignature verified, in policy order. */
  cosigned: {
    witness: string;
    type: "ed25519" | "ml-dsa-44";
    /** The newest timestamp among the witness's lines. */
    timestamp: number;
    /** `stale`: older than `maxAge`; `future`: later than `maxFutureSkew` allows; `undated`: timestamp 0, which
     * states nothing about the tree being the newest its signer saw (never counted). */
    standing: "counted" | "stale" | "future" | "undated";
  }[];
}

/** Result of `verifyWitnessedCheckpoint`: the checkpoint (as `verifyCheckpoint`) and its witnesses. */
export interface WitnessedCheckpointVerification extends CheckpointVerification {
  witnessed: WitnessVerdict;
}

/** A `cairn.revocations` checkpoint line: revoked objects, the map's root (hex), the line itself. */
export interface RevocationsView {
  count: number;
  root: string;
  line: string;
}

/** Two signed checkpoints of one log that cannot both be true. */
export interface SplitView {
  origin: string;
  size: number;
  /** The two roots (hex), first checkpoint's first. */
  roots: [string, string];
  /** Each checkpoint's revocation map line, or null. */
  revocations: [RevocationsView | null, RevocationsView | null];
  code: "split_view";
  /** What the `split_view` error would say. */
  message: string;
}

/** Result of `detectSplitView`. */
export interface SplitViewDetection {
  split_view: SplitView | null;
}

/** The kinds of objects the revocation map holds. */
export type RevocationKind = "key" | "token" | "manifest";

/** One revoked object of `revocationMapRoot`: kind, 32-byte id, and the revoking ledger entry's seq. */
export interface RevokedObjectInput {
  kind: RevocationKind;
  id: DigestInput;
  seq: IntegerInput;
}

/** Result of `revocationMapKey` (hex). */
export interface RevocationMapKey {
  kind: RevocationKind;
  id: string;
  key: string;
}

/** Result of `verifyNotRevoked` (hex). */
export interface NotRevokedVerification {
  valid: true;
  revoked: false;
  kind: RevocationKind;
  id: string;
  key: string;
  root: string;
}

/** Result of `verifyRevoked` (hex). */
export interface RevokedVerification {
  valid: true;
  revoked: true;
  /** Sequence number of the ledger entry that revoked the object. */
  seq: number;
  kind: RevocationKind;
  id: string;
  key: string;
  root: string;
}

/** Options of `bluxVerifyToken`. */
export interface BluxTokenOptions {
  now?: TimeInput;
  /** Text of blux-reg's token_revocations.jsonl. */
  revocations?: string | Uint8Array;
  /** Issuer fingerprints (hex SHA-256 of the raw Ed25519 key) or keys; absent: any issuer. */
  trustedIssuers?: (string | KeyInput)[];
}

/** Result of `bluxVerifyToken`. */
export interface BluxTokenVerification {
  valid: true;
  token_hash: string;
  issuer_fingerprint: string;
  issuer_key_id: string;
  /** As written in the token (ISO 8601). */
  expires_at: string;
  expires_at_unix: number;
  capability: unknown;
  audience: unknown;
  constraints: unknown;
}

/** Result of `bluxVerifyManifest`. */
export interface BluxManifestVerification {
  valid: true;
  artifact_path: string;
  artifact_sha256: string;
  created_at: unknown;
  manifest_hash: string;
  key_fingerprint: string;
  key_id: string;
}

/** Result of `bluxVerifyLedger`. */
export interface BluxLedgerVerification {
  valid: true;
  entries: number;
  /** entry_hash of the last entry, null for an empty ledger. */
  head: string | null;
}

/** Result of `verifyExport`. */
export interface ExportVerification {
  valid: true;
  /** The source's origin, from the stream's header. */
  origin: string;
  entries: number;
  checkpoints: number;
  /** Merkle root of all entries, hex. */
  root: string;
  /** Key id (hex) of the log key at the end of the stream. */
  log_key: string;
}

/** What `verifyExport` expects of the source. */
export interface ExportOptions {
  /** The source's origin; the stream must carry it. */
  origin?: string;
  /** A checkpoint note obtained from the source (or its witnesses); the stream must extend it. */
  checkpoint?: string;
  /** The key that signed `checkpoint` (required with it). */
  checkpointKey?: KeyInput;
}

/** Result of `bluxCanonicalJson`. */
export interface BluxCanonicalJson {
  canonical: string;
  sha256: string;
}

/** `{code, message, class}` of a part of an object that did not decode. */
export interface DecodeError {
  code: ErrorCode;
  message: string;
  class: ErrorClass;
}

/** An envelope with its payload decoded when its type is a cairn object. */
export interface DecodedEnvelopeView extends EnvelopeView {
  object: "token" | "manifest" | "trust_root" | "ledger_entry" | null;
  decoded: TokenClaims | (ManifestClaims & { manifest_digest: string }) | TrustRootView | LedgerEntryView | null;
  decode_error?: DecodeError;
}

/** A checkpoint note, parsed but not verified. */
export interface CheckpointView {
  kind: "checkpoint";
  origin: string;
  size: number;
  root: string;
  extensions: string[];
  signatures: { name: string; key_hash: string; size: number }[];
}

/** A bundle, decoded but not verified. */
export interface BundleView {
  kind: "bundle";
  version: number;
  subject: DecodedEnvelopeView;
  /** Ids of the delegation parents. */
  parents: string[];
  entry: LedgerEntryView | { decode_error: DecodeError };
  inclusion: { leaf_index: number; tree_size: number; hashes: number };
  /** The checkpoint, with its signed note text in `note`. */
  checkpoint: (CheckpointView & { note: string }) | { decode_error: DecodeError };
  trust_chain: ({ version: number; root_id: string } | { decode_error: DecodeError })[];
  root_id: string;
  /**
   * A version 2 bundle's revocation section, decoded but not checked: the checkpoint's newest
   * ledger entry (which dates it) and one non-membership proof per object (subject, signers'
   * keys, a token's ancestors), each with its kind ("unknown" for a kind byte cairn does not
   * know), its id (hex) and the proof's length in bytes. `null` for version 1.
   */
  revocation: {
    newest_entry: LedgerEntryView | { decode_error: DecodeError };
    proofs: { kind: RevocationKind | "unknown"; id: string; bytes: number }[];
  } | null;
}

/** A blux-reg token or manifest file, parsed but not verified. */
export type BluxFileView =
  | { kind: "blux_token"; token_hash: string; fields: Record<string, unknown> }
  | { kind: "blux_manifest"; manifest_hash: string; fields: Record<string, unknown> };

/** What `inspect` returns: a view of the object, tagged by `kind`. */
export type InspectView = DecodedEnvelopeView | BundleView | CheckpointView | BluxFileView;

// ---- functions (declared here so that optional parameters are marked optional) ----

/** Verifies one raw signature by `publicKey` over `message`; `context` is the FIPS 204 context (ML-DSA only). */
export function verifySignature(publicKey: KeyInput, message: BytesInput, signature: Uint8Array | string, context?: BytesInput): SignatureVerification;

/** Verifies many raw signatures at once (Ed25519 through one batch equation); throws the first bad item's error, message prefixed `signatures[i]`. */
export function verifySignatures(items: SignatureItemInput[]): SignaturesVerification;

/** Verifies many tokens under the same issuers and options; throws the first bad token's error, message prefixed `tokens[i]`. */
export function verifyTokens(tokens: TokenItemInput[], trustedIssuers: KeysInput, options?: TokensOptions): TokensVerification;

/** A key's algorithm, id and size, after the checks verification applies to it. */
export function keyId(publicKey: KeyInput): KeyInfo;

/** Verifies a DSSE envelope (JSON text or compact bytes) of `payloadType`, signed by `threshold` (default 1) distinct keys of `keys`. */
export function verifyEnvelope(envelope: BytesInput, payloadType: string, keys: KeysInput, threshold?: IntegerInput): EnvelopeVerification;

/** Verifies a capability token issued by one of `trustedIssuers`, with its delegation parents, at `options.now`. */
export function verifyToken(token: BytesInput, trustedIssuers: KeysInput, options?: TokenOptions): TokenVerification;

/** Verifies an artifact manifest signed by `options.threshold` (default 1) of `trustedSigners`, and the artifact when given. */
export function verifyManifest(manifest: BytesInput, trustedSigners: KeysInput, options?: ManifestOptions): ManifestVerification;

/** Verifies a signed checkpoint note by `verifiers` under `policy` (or just the origin). */
export function verifyCheckpoint(note: BytesInput, verifiers: CheckpointVerifierInput | CheckpointVerifierInput[], policy: CheckpointPolicyInput | string): CheckpointVerification;

/** Verifies an RFC 9162 inclusion proof. In the second module. */
export function verifyInclusion(leafHash: DigestInput, index: IntegerInput, treeSize: IntegerInput, proof: DigestInput[], root: DigestInput): InclusionVerification;

/** Verifies an RFC 9162 consistency proof. In the second module. */
export function verifyConsistency(oldSize: IntegerInput, newSize: IntegerInput, oldRoot: DigestInput, newRoot: DigestInput, proof: DigestInput[]): ConsistencyVerification;

/** The RFC 6962 Merkle root of raw leaves. In the second module. */
export function merkleRoot(leaves: BytesInput[]): MerkleRoot;

/** Verifies a pinned trust root and walks the rotation chain (versions n+1, n+2, ...) to the newest, unexpired at `now`. In the second module. */
export function verifyTrustRootChain(pinned: BytesInput, chain?: BytesInput[], now?: TimeInput): TrustRootVerification;

/** Verifies one signed ledger entry by `threshold` (default 1) of `logKeys`. In the second module. */
export function verifyLedgerEntry(entry: BytesInput, logKeys: KeysInput, threshold?: IntegerInput): LedgerEntryVerification;

/** Verifies the hash chain of ledger entries (entry bytes, in order) from genesis or from `start`. In the second module. */
export function verifyLedgerChain(entries: BytesInput[], start?: ChainHeadInput): LedgerChainVerification;

/** Verifies a bundle (CBDL bytes) offline against the pinned trust root (envelope bytes or DSSE JSON). */
export function verifyBundle(bundle: Uint8Array | ArrayBuffer, trustedRoot: BytesInput, options?: BundleOptions): BundleVerification;

/** Verifies a blux-reg v1.0 capability token file. */
export function bluxVerifyToken(token: string | Uint8Array, options?: BluxTokenOptions): BluxTokenVerification;

/** Verifies a blux-reg v1.0 manifest file against the artifact (bytes, digest object, or hex SHA-256) and trusted keys. */
export function bluxVerifyManifest(manifest: string | Uint8Array, artifact: ArtifactInput | string, keys: KeysInput): BluxManifestVerification;

/** Verifies the hash chain of a blux-reg ledger file (JSON lines). */
export function bluxVerifyLedger(ledger: string | Uint8Array): BluxLedgerVerification;

/** blux-reg's canonical JSON of a JSON text, and its SHA-256. */
export function bluxCanonicalJson(json: string | Uint8Array): BluxCanonicalJson;

/** Verifies a registry's ledger export stream (`cairn ledger export`): every entry through the ledger rule book, the Merkle tree, every checkpoint, and what `options` expects of the source. In the second module. */
export function verifyExport(stream: Uint8Array | ArrayBuffer, options?: ExportOptions): ExportVerification;

/**
 * Verifies a checkpoint (as `verifyCheckpoint`) and, from C2SP tlog-tiles the caller fetched,
 * `request.entry` with its inclusion proof and the consistency proof from
 * `request.oldCheckpoint`. Never fetches: until every tile needed is among `tiles` the answer
 * is `{complete: false, missing}` (fetch those paths below the log's prefix and call again
 * with them added). Anything that does not verify throws. In the second module.
 */
export function verifyFromTiles(
  note: BytesInput,
  verifiers: CheckpointVerifierInput | CheckpointVerifierInput[],
  policy: CheckpointPolicyInput | string,
  request?: TilesRequest,
  tiles?: TileInput[],
): TilesVerification | TilesMissing;

/** Verifies a peer key request addressed to `me`: its signature by the key it carries, its addressee and its time (`options.maxSkew`, default 300 s, around `options.now`). Nonces are the caller's to track. In the second module. */
export function verifyKeyRequest(message: BytesInput, me: string, options?: PeerOptions): KeyRequestVerification;

/** Verifies a peer key response answering `me` (a compact envelope, or a bundle whose subject is one): its ML-DSA-65 (or hybrid) signature by the key it carries, the FIPS 203 checks of its ML-KEM-768 key, its addressee and time. Whether to trust the key is the caller's policy. In the second module. */
export function verifyKeyResponse(message: BytesInput, me: string, options?: KeyResponseOptions): KeyResponseVerification;

/** Verifies the C2SP witness cosignatures of a checkpoint note under the policy in `options` and reports which witnesses cosigned and whether the quorum is met (reported, not enforced; the log's own signature is not checked). A line of a policy witness that does not verify is `signature_invalid`. In the second module. */
export function verifyCosignatures(note: BytesInput, options: WitnessPolicyInput): WitnessVerdict;

/** Verifies a checkpoint note's log signature (as `verifyCheckpoint`), then that `options.quorum` of `options.witnesses` cosigned it (`threshold_not_met`; `stale` / `not_yet_valid` when only cosignatures outside the time window are missing). In the second module. */
export function verifyWitnessedCheckpoint(note: BytesInput, verifiers: CheckpointVerifierInput | CheckpointVerifierInput[], policy: CheckpointPolicyInput | string, options: WitnessPolicyInput): WitnessedCheckpointVerification;

/** Compares two checkpoint notes of one log, each verified under `verifiers` and `policy`: `{split_view: null}`, or the split view (same size and different roots, or one tree with two revocation maps). Different sizes are not judged (that takes a consistency proof). In the second module. */
export function detectSplitView(first: BytesInput, second: BytesInput, verifiers: CheckpointVerifierInput | CheckpointVerifierInput[], policy: CheckpointPolicyInput | string): SplitViewDetection;

/** The revocation map's key of an object: SHA-256(0x10 ‖ kind ‖ id). In the second module. */
export function revocationMapKey(kind: RevocationKind, id: DigestInput): RevocationMapKey;

/** The count and root of the revocation map holding `revoked` (any order; at most 100,000; an object listed twice is `replayed`). In the second module. */
export function revocationMapRoot(revoked: RevokedObjectInput[]): RevocationsView;

/**
 * The handle registry's client side (docs/FORMATS.md section 19): a third module, apart from
 * the main one and the second (`initExtras`). In browsers `await initHandle()` loads it (until
 * then these functions throw `ERR_CAIRN_HANDLE_NOT_LOADED`); in Node it loads at the first call.
 */
export interface NormalisedHandle { handle: string }
/** A normalised handle and its blind index (HMAC-SHA-256 under the pepper, hex). */
export interface HandleBlindIndex { handle: string; blind_index: string }
/** Envelope suites: `'x25519'` (the default) or `'xwing'` (post-quantum hybrid X-Wing, ML-KEM-768 + X25519), short or full names (`'x25519-hkdf-sha256-chacha20poly1305'`, `'xwing-hkdf-sha256-chacha20poly1305'`). */
export type EnvelopeSuite = 'x25519' | 'xwing' | 'x25519-hkdf-sha256-chacha20poly1305' | 'xwing-hkdf-sha256-chacha20poly1305';
/** An envelope secret key: 32 bytes (Uint8Array, hex or base64; an X25519 scalar or an X-Wing seed), an optional configured kid (16 hex digits) and suite name. */
export interface EnvelopeSecretKeyInput { secret: DigestInput; kid?: string; suite?: EnvelopeSuite }
/** The public half of an envelope key. */
export interface EnvelopeKey { suite: string; kid: string; public_key: string; derived_kid: string }
/** Whom an envelope is sealed to: the recipient's public key (32 bytes for X25519, 1216 for X-Wing; a Uint8Array, hex or base64), kid and suite. */
export interface EnvelopeRecipient { publicKey: Uint8Array | string; kid?: string; suite?: EnvelopeSuite }
/** `purpose` names what the envelope is for (e.g. `register`); `aad` binds it to context (bytes or hex); `seed` is 32 random bytes (`crypto.getRandomValues`). */
export interface SealOptions { purpose: string; aad?: Uint8Array | string; seed: DigestInput }
export interface SealedEnvelope { envelope: string; kid: string; suite: string }
export interface OpenOptions { purpose: string; aad?: Uint8Array | string }
/** The plaintext as hex, and as text when it is UTF-8. */
export interface OpenedEnvelope { kid: string; plaintext: string; text: string | null }
export interface PowChallengeOptions { nonce: Uint8Array | string; difficulty: number; expires: number | bigint }
export interface PowChallenge { challenge: string; id: string; difficulty: number; expires: number }
export interface PowSolveOptions { maxIterations?: number | bigint }
/** `null` for both when `maxIterations` ran out. */
export interface PowSolution { counter: number | null; solution: string | null }
export interface PowVerification { valid: true; id: string; difficulty: number; expires: number }

/** The handle as the registry stores and compares it (trimmed, NFKC, lowercase, `a-z 0-9 . _ -`, 3 to 32 characters). A refused handle throws a CairnError `malformed` (`too_large` past the length limits) whose `message` says why; the error has no `field` property. */
export function normaliseHandle(input: string): NormalisedHandle;
/** The normalised handle and its peppered blind index (the registry's lookup key). */
export function handleBlindIndex(pepper: Uint8Array | string, input: string): HandleBlindIndex;
/** The public half of an envelope secret key; a fresh key pair is `envelopeKey({secret: crypto.getRandomValues(new Uint8Array(32))})`. */
export function envelopeKey(key: EnvelopeSecretKeyInput): EnvelopeKey;
/** Seals `plaintext` (bytes, or a string as UTF-8) to the recipient's envelope key (HPKE with X25519 or X-Wing, ChaCha20-Poly1305). */
export function sealEnvelope(recipient: EnvelopeRecipient, plaintext: Uint8Array | string, options: SealOptions): SealedEnvelope;
/** Opens an envelope (bytes or base64) with one of `keys` (the first is the active one): `signature_invalid` when it was tampered with or sealed for another purpose or aad, `unknown_key` for another kid. */
export function openEnvelope(keys: EnvelopeSecretKeyInput[], envelope: Uint8Array | string, options: OpenOptions): OpenedEnvelope;
/** Issues a proof-of-work challenge authenticated by the server's secret (server side). */
export function issuePowChallenge(secret: Uint8Array | string, options: PowChallengeOptions): PowChallenge;
/** Solves a proof-of-work challenge (the first counter whose work hash has `difficulty` leading zero bits). */
export function solvePow(challenge: string, options?: PowSolveOptions): PowSolution;
/** Checks a proof-of-work solution (server side): `signature_invalid` (forged or altered), `expired`, `proof_invalid` (not enough work). */
export function verifyPowSolution(solution: string, secret: Uint8Array | string, options?: { now?: number | bigint | Date; minDifficulty?: number }): PowVerification;

/** Moves a bundle to the newer checkpoint of the registry's refresh pieces (`CRFP`, from `cairn bundle refresh --pieces-out` or `GET /api/v1/bundles/{token|manifest}/ID/refresh`), after checking they fit it (same log, a tree extending the bundle's, the same entry, a proof for every object it rests on: `domain_mismatch`, `replayed`, `split_view`, `proof_invalid`, `revoked`). Returns the refreshed version 2 bundle; verify it with `verifyBundle`. Second module. */
export function refreshBundle(bundle: Uint8Array | ArrayBuffer | string, pieces: Uint8Array | ArrayBuffer | string): Uint8Array;

/** Verifies a revocation-map non-membership proof (bytes or base64): the object is absent from the map with `root`, so not revoked as of the checkpoint carrying that root. A proof that it is present is `revoked`; one that does not lead to `root` is `proof_invalid`. In the second module. */
export function verifyNotRevoked(root: DigestInput, kind: RevocationKind, id: DigestInput, proof: Uint8Array | string): NotRevokedVerification;

/** Verifies a revocation-map membership proof: the object is revoked in the map with `root`, by the ledger entry `seq` (`proof_invalid` otherwise). In the second module. */
export function verifyRevoked(root: DigestInput, kind: RevocationKind, id: DigestInput, proof: Uint8Array | string): RevokedVerification;

/** Reads a checkpoint extension line as a `cairn.revocations` line; null for a line of another kind, `malformed` for a broken one. In the second module. */
export function parseRevocationsLine(line: string): RevocationsView | null;

/** Decodes any cairn object (envelope, bundle, checkpoint note, blux-reg file) into a view tagged by `kind`, verifying nothing. */
export function inspect(object: BytesInput): InspectView;

/** Every error code, in declaration order. */
export function errorCodes(): ErrorCode[];
