//! Signing and co-signing manifests (feature `std`).

use super::claims::ManifestClaims;
use super::MANIFEST_PAYLOAD_TYPE;
use crate::crypto::SigningKey;
use crate::dsse::Envelope;
use crate::error::{Error, ErrorCode, Result};

/// Validates `claims` and returns a manifest envelope signed by `key`.
pub fn sign_manifest(claims: &ManifestClaims, key: &SigningKey) -> Result<Envelope> {
    let mut env = claims.to_envelope()?;
    env.sign(key)?;
    Ok(env)
}

/// Adds `key`'s signature to an existing manifest. The manifest's digest, and so its
/// identity, does not change. The payload must be a valid manifest (signing something one has
/// not read is refused), and `key` must not have signed it already (`malformed`).
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::manifest::*;
/// let (a, b) = (SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]),
///               SigningKey::from_seed(Algorithm::MlDsa44, &[2; 32]));
/// let claims = ManifestClaims::new("a.bin", "application/octet-stream", 0,
///     cairn_core::encoding::sha256(&[]), 0);
/// let mut env = sign_manifest(&claims, &a)?;
/// let digest = manifest_digest(&env);
/// add_cosignature(&mut env, &b)?;
/// let keys = [a.public_key().clone(), b.public_key().clone()];
/// let ok = verify_manifest(&env, &keys, 2, ArtifactCheck::Bytes(b""))?;
/// assert_eq!(ok.digest, digest);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn add_cosignature(env: &mut Envelope, key: &SigningKey) -> Result<()> {
    if env.payload_type != MANIFEST_PAYLOAD_TYPE {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            "only an artifact manifest can be co-signed here",
        ));
    }
    ManifestClaims::from_payload(&env.payload)?;
    env.sign(key)
}
