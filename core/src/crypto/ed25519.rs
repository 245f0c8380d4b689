//! Ed25519 with ed25519-dalek's strict verification: non-canonical signatures (S ≥ L),
//! small-order keys and small-order R are rejected, so one message has one valid signature
//! per key (no malleability a verifier could be fooled by).

use ed25519_dalek::{Signature, VerifyingKey};

use crate::error::{Error, ErrorCode, Result};

fn key(bytes: &[u8]) -> Result<VerifyingKey> {
    let arr: &[u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::new(ErrorCode::InvalidKey, "Ed25519 public key must be 32 bytes"))?;
    VerifyingKey::from_bytes(arr).map_err(|_| {
        Error::new(
            ErrorCode::InvalidKey,
            "Ed25519 public key is not a curve point",
        )
    })
}

/// Rejects encodings that are not a point, and weak (small-order) keys.
pub(super) fn check_public_key(bytes: &[u8]) -> Result<()> {
    let k = key(bytes)?;
    if k.is_weak() {
        return Err(Error::new(
            ErrorCode::InvalidKey,
            "Ed25519 public key has small order",
        ));
    }
    Ok(())
}

/// Strict RFC 8032 verification of a 64-byte signature.
pub(super) fn verify(pk: &[u8], message: &[u8], sig: &[u8]) -> Result<()> {
    let k = key(pk)?;
    let sig: &[u8; 64] = sig.try_into().map_err(|_| {
        Error::new(
            ErrorCode::SignatureInvalid,
            "Ed25519 signature must be 64 bytes",
        )
    })?;
    let sig = Signature::from_bytes(sig);
    k.verify_strict(message, &sig).map_err(|_| {
        Error::new(
            ErrorCode::SignatureInvalid,
            "Ed25519 signature does not verify",
        )
    })
}
