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
  | "replayed";

/** What every export throws on failure: `name` is "CairnError", `message` the detail. */
export interface CairnError extends Error {
  name: "CairnError";
  code: ErrorCode;
}

/** Result of `verifySignature`. */
export interface SignatureVerification {
  valid: true;
  algorithm: Algorithm;
  /** Hex SHA-256 over the algorithm id and the public key. */
  keyId: string;
}

/** One signature of an envelope, as read (not verified). */
export interface EnvelopeSignatureView {
  keyId: string;
  /** Signature length in bytes. */
  size: number;
  /** Algorithms whose signatures have this length (display hint only). */
  algorithms: Algorithm[];
}

/** A DSSE envelope, decoded but not verified. */
export interface EnvelopeView {
  kind: "envelope";
  /** Hex SHA-256 of the compact form: the envelope's identity. */
  id: string;
  payloadType: string;
  payloadSize: number;
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

/** SHA-256 and length of an artifact. */
export interface ArtifactDigest {
  algorithm: "sha256";
  /** Lowercase hex. */
  digest: string;
  size: number;
}

/** What `inspect` returns: a view of the object, tagged by `kind`. */
export type InspectView = EnvelopeView;
