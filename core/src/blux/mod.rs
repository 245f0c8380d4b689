//! blux-reg v1.0 interop: verifying the capability tokens, artifact manifests, revocation
//! files and hash-chained ledgers that blux-reg 0.2.0 writes, bit-exactly.
//!
//! Every blux-reg hash and signature covers Python's
//! `json.dumps(v, sort_keys=True, separators=(",", ":"))` of the **parsed** value, so this
//! module carries a Python-compatible JSON model ([`parse_json`], [`Value`]) and serialiser
//! ([`canonical_json`]). On top of them:
//!
//! | function | checks |
//! |---|---|
//! | [`verify_token`] | fields, type, version, issuer key and fingerprint, trust, signature, expiry, revocation |
//! | [`verify_manifest`] | fields, version, artifact digest, signer key, signature |
//! | [`verify_ledger`] | every line parses, `prev_hash` links, `entry_hash` values |
//!
//! Where blux-reg is wrong, cairn gives the correct verdict instead (docs/FORMATS.md, blux
//! section): the issuer fingerprint is checked (`key_mismatch`), signatures must be canonical
//! base64 so a re-encoded signature cannot change the token hash and escape revocation
//! (`signature_invalid`), issuers can be pinned (`unknown_key`), and every failure is a
//! verdict with a code, never an exception.

mod canonical;
mod json;
mod ledger;
mod lines;
mod manifest;
mod time;
mod token;

pub use canonical::{canonical_json, python_float_repr};
pub use json::{
    parse_json, parse_json_with, CodePoints, Int, JsonString, Limits, Object, Value, MAX_INT_DIGITS,
};
pub use ledger::{verify_ledger, LedgerChain, LedgerSummary, MAX_LEDGER_LEN};
pub use manifest::{verify_manifest, ManifestVerdict};
pub use time::parse_iso8601_micros;
pub use token::{
    token_hash, verify_token, verify_token_against, Revocations, TokenPolicy, TokenVerdict,
    MAX_REVOCATIONS_LEN,
};

use crate::crypto::{Algorithm, PublicKey, Signature};
use crate::encoding::{b64_decode, b64_encode, hex_encode, sha256, Digest};
use crate::error::{Error, ErrorCode, Result};

/// The only `schema_version` cairn accepts for tokens and manifests.
pub const SCHEMA_VERSION: &str = "1.0";

/// A blux-reg key fingerprint: SHA-256 of the raw 32-byte Ed25519 public key (not of its
/// PEM text or DER).
///
/// ```
/// use cairn_core::blux::fingerprint;
/// use cairn_core::crypto::pem::public_key_from_pem;
/// let pk = public_key_from_pem("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAc9L5J+vRUDiG6vaY7dyqdzsXrZK/ZItbb+LjjYlkAZg=\n-----END PUBLIC KEY-----\n")?;
/// assert_eq!(
///     cairn_core::encoding::hex_encode(&fingerprint(&pk)),
///     "da88a5104f8602e8c19542bf3d76924e83c312d3f3b4c6cc31a89685f07c91e6"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fingerprint(key: &PublicKey) -> Digest {
    sha256(&[key.as_bytes()])
}

/// SHA-256 of the canonical JSON of `value`, the hash blux-reg uses for token hashes,
/// manifest hashes and ledger entry hashes.
pub fn canonical_hash(value: &Value) -> Digest {
    sha256(&[canonical_json(value).as_bytes()])
}

/// Decodes a blux-reg signature string. Only the exact output of Python's
/// `base64.b64encode` of 64 bytes is accepted: padded, no whitespace, canonical final
/// character. Python's lenient `b64decode` would also take other spellings of the same
/// bytes, and each spelling gives a different token hash.
fn decode_signature(v: Option<&Value>) -> Result<Signature> {
    let text = v.and_then(Value::as_str).ok_or_else(|| {
        Error::new(
            ErrorCode::SignatureInvalid,
            "signature is not a base64 string",
        )
    })?;
    let bytes = b64_decode(text).map_err(|_| {
        Error::new(
            ErrorCode::SignatureInvalid,
            "signature is not canonical standard base64 (padded, no whitespace, canonical final character)",
        )
    })?;
    // Belt and braces: strict decoding already implies this.
    if b64_encode(&bytes) != text {
        return Err(Error::new(
            ErrorCode::SignatureInvalid,
            "signature is not in canonical base64",
        ));
    }
    Signature::from_bytes(Algorithm::Ed25519, &bytes)
}

/// Verifies an Ed25519 signature over the canonical JSON of `obj` without `"signature"`.
fn verify_signed_object(obj: &Object, key: &PublicKey) -> Result<()> {
    let sig = decode_signature(obj.get("signature"))?;
    let mut payload = obj.clone();
    payload.remove("signature");
    let message = canonical_json(&Value::Object(payload));
    key.verify(message.as_bytes(), b"", &sig)
}

/// The field as a string, or a malformed error naming it.
fn str_field<'a>(obj: &'a Object, name: &str, what: &str) -> Result<&'a str> {
    obj.get(name).and_then(Value::as_str).ok_or_else(|| {
        Error::malformed(alloc::format!(
            "{what}: {name:?} is missing or not a string"
        ))
    })
}

/// Lowercase hex, the form blux-reg writes every hash and fingerprint in.
fn hex(d: &Digest) -> alloc::string::String {
    hex_encode(d)
}
