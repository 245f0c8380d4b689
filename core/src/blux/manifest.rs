//! blux-reg v1.0 artifact manifests (`<artifact>.blux-manifest.json`).

use alloc::string::String;

use super::json::{parse_json, Value};
use super::{canonical_hash, fingerprint, hex, str_field, verify_signed_object, SCHEMA_VERSION};
use crate::crypto::{Algorithm, PublicKey};
use crate::encoding::Digest;
use crate::error::{Error, ErrorCode, Result};

const REQUIRED: [&str; 6] = [
    "artifact_path",
    "artifact_sha256",
    "created_at",
    "key_fingerprint",
    "schema_version",
    "signature",
];

/// What a verified manifest states.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestVerdict {
    /// The artifact's file name as the signer recorded it. It is not sanitised: never join
    /// it to a directory without checking it is a plain file name.
    pub artifact_path: String,
    /// The artifact digest (equal to the one the caller computed).
    pub artifact_sha256: Digest,
    /// The `created_at` field as written (blux-reg neither checks nor interprets it).
    pub created_at: Value,
    /// SHA-256 of the canonical JSON of the whole manifest (what blux-reg records as
    /// `manifest_hash` in its ledger's `sign` entry).
    pub manifest_hash: Digest,
    /// The signer's key fingerprint.
    pub key_fingerprint: Digest,
    /// The signer's key.
    pub key: PublicKey,
}

/// Verifies a blux-reg v1.0 manifest against the SHA-256 of the artifact's raw bytes (the
/// caller hashes the file) and a set of trusted Ed25519 keys.
///
/// Checks, in blux-reg's order: the text is one JSON object with every required field
/// (`malformed`), `schema_version == "1.0"` (`unsupported_version`, a check blux-reg
/// skips), `artifact_sha256` is the lowercase hex of `artifact_sha256` (`digest_mismatch`),
/// a trusted Ed25519 key has the fingerprint `key_fingerprint` (`unknown_key`), and
/// `signature` is canonical base64 of its Ed25519 signature over the canonical JSON of the
/// manifest without `signature` (`signature_invalid`). Keys of other algorithms are ignored.
///
/// ```
/// use cairn_core::blux::verify_manifest;
/// use cairn_core::crypto::pem::public_key_from_pem;
/// use cairn_core::encoding::sha256;
/// use cairn_core::ErrorCode;
/// let manifest = r#"{
///   "artifact_path": "artifact.txt",
///   "artifact_sha256": "1336db78996a3594948d0547b6bfe4f492c3a67c7a1a8afb283a8cd2222a39c7",
///   "created_at": "2026-01-20T14:12:00+00:00",
///   "key_fingerprint": "abd53445b1653cb8b718edd05adfaaef8215f05f38e3e179191a173a6f01add2",
///   "schema_version": "1.0",
///   "signature": "xfwh65ytqhYZRPMQ/LPErBor22Nsl+Fpk4dBhRdK1LxG6KlWSA6kYsVLjCQ09J90IdL5dmRLxFG1vRpe9IxRCg=="
/// }"#;
/// let key = public_key_from_pem("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAXbXcR5eD9KRToxvZuxngzR1Icfno4uXTUc9WsOF0Q4g=\n-----END PUBLIC KEY-----\n")?;
/// let digest = sha256(&[b"hello from blux-reg\n"]);
/// let v = verify_manifest(manifest, &digest, &[key.clone()])?;
/// assert_eq!(v.artifact_path, "artifact.txt");
///
/// let other = sha256(&[b"hello from blux-reg\r\n"]);
/// assert_eq!(verify_manifest(manifest, &other, &[key]).unwrap_err().code(), ErrorCode::DigestMismatch);
/// assert_eq!(verify_manifest(manifest, &digest, &[]).unwrap_err().code(), ErrorCode::UnknownKey);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_manifest(
    manifest_json: &str,
    artifact_sha256: &Digest,
    trusted_keys: &[PublicKey],
) -> Result<ManifestVerdict> {
    let value = parse_json(manifest_json).map_err(|e| e.context("manifest"))?;
    let m = value
        .as_object()
        .ok_or_else(|| Error::malformed("manifest: not a JSON object"))?;
    let missing: alloc::vec::Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|k| !m.contains_key(k))
        .collect();
    if !missing.is_empty() {
        return Err(Error::malformed(alloc::format!(
            "manifest: missing fields {missing:?}"
        )));
    }
    if m.get("schema_version").and_then(Value::as_str) != Some(SCHEMA_VERSION) {
        return Err(Error::new(
            ErrorCode::UnsupportedVersion,
            "manifest: schema_version is not \"1.0\"",
        ));
    }
    let artifact_path = str_field(m, "artifact_path", "manifest")?;
    let stated = str_field(m, "artifact_sha256", "manifest")?;
    let wanted = str_field(m, "key_fingerprint", "manifest")?;
    if stated != hex(artifact_sha256) {
        return Err(Error::new(
            ErrorCode::DigestMismatch,
            alloc::format!(
                "manifest: artifact_sha256 {stated:?} differs from the artifact's {}",
                hex(artifact_sha256)
            ),
        ));
    }
    let key = trusted_keys
        .iter()
        .filter(|k| k.algorithm() == Algorithm::Ed25519)
        .find(|k| hex(&fingerprint(k)) == wanted)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownKey,
                alloc::format!("manifest: no trusted key has fingerprint {wanted:?}"),
            )
        })?;
    verify_signed_object(m, key).map_err(|e| e.context("manifest"))?;
    Ok(ManifestVerdict {
        artifact_path: String::from(artifact_path),
        artifact_sha256: *artifact_sha256,
        created_at: m.get("created_at").cloned().unwrap_or(Value::Null),
        manifest_hash: canonical_hash(&value),
        key_fingerprint: fingerprint(key),
        key: key.clone(),
    })
}
