//! Verification of a manifest's signatures and of the artifact against it.

use alloc::vec::Vec;

use super::claims::ManifestClaims;
use super::hasher::ArtifactHasher;
use super::MANIFEST_PAYLOAD_TYPE;
use crate::crypto::{KeyId, PublicKey};
use crate::dsse::Envelope;
use crate::encoding::{hex_encode, sha256, Digest};
use crate::error::{Error, ErrorCode, Result};

/// What to check the artifact against, besides the signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactCheck<'a> {
    /// The artifact's size and SHA-256, computed by the caller (e.g. with
    /// [`super::ArtifactHasher`] over a stream).
    Digest {
        /// Size in bytes.
        size: u64,
        /// SHA-256 of the bytes.
        sha256: Digest,
    },
    /// The artifact's bytes, hashed here.
    Bytes(&'a [u8]),
    /// No artifact: check the signatures and the claims only.
    None,
}

/// What a successful [`verify_manifest`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedManifest {
    /// The manifest's identity, [`manifest_digest`]: the same for every set of signatures.
    pub digest: Digest,
    /// The manifest's claims.
    pub claims: ManifestClaims,
    /// Distinct trusted signers whose signatures verified, in envelope order.
    pub signers: Vec<KeyId>,
}

impl VerifiedManifest {
    /// The JSON view used by the CLI and JavaScript.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "digest": hex_encode(&self.digest),
            "signers": self.signers.iter().map(KeyId::to_hex).collect::<Vec<_>>(),
            "claims": self.claims.to_json(),
        })
    }
}

/// The identity of a manifest: SHA-256 of `PAE(payload_type, payload)`, the bytes every
/// signature covers. Unlike [`Envelope::id`] it ignores signatures, so co-signing a manifest
/// does not change it.
///
/// ```
/// use cairn_core::dsse::{pae, Envelope};
/// let env = Envelope::new("t", b"p".to_vec())?;
/// assert_eq!(cairn_core::manifest::manifest_digest(&env), cairn_core::encoding::sha256(&[&pae("t", b"p")]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn manifest_digest(env: &Envelope) -> Digest {
    sha256(&[&env.signed_bytes()])
}

/// Verifies a manifest: at least `threshold` distinct keys of `trusted_signers` signed it,
/// its claims decode, and the artifact (if given) has the stated size and SHA-256.
///
/// Checks, in this order: payload type (`domain_mismatch`), signatures over the exact bytes
/// (`unknown_key` when none is by a trusted key, `signature_invalid`, `threshold_not_met`;
/// a threshold of 0 is `malformed`), decoding (`malformed`, `unsupported_version`,
/// `too_large`), then the artifact: size first, then digest (`digest_mismatch`).
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::manifest::{sign_manifest, verify_manifest, ArtifactCheck, ManifestClaims};
/// let key = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[5; 32]);
/// let artifact = b"release bytes";
/// let claims = ManifestClaims::new("release.bin", "application/octet-stream",
///     artifact.len() as u64, cairn_core::encoding::sha256(&[artifact]), 1_700_000_000);
/// let env = sign_manifest(&claims, &key)?;
/// let trusted = [key.public_key().clone()];
/// let ok = verify_manifest(&env, &trusted, 1, ArtifactCheck::Bytes(artifact))?;
/// assert_eq!(ok.claims.name, "release.bin");
/// let err = verify_manifest(&env, &trusted, 1, ArtifactCheck::Bytes(b"other")).unwrap_err();
/// assert_eq!(err.code().as_str(), "digest_mismatch");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_manifest(
    env: &Envelope,
    trusted_signers: &[PublicKey],
    threshold: usize,
    artifact: ArtifactCheck<'_>,
) -> Result<VerifiedManifest> {
    let verified = env.verify(MANIFEST_PAYLOAD_TYPE, trusted_signers, threshold)?;
    let claims = ManifestClaims::from_payload(verified.payload)?;
    let actual = match artifact {
        ArtifactCheck::Digest { size, sha256 } => Some((size, sha256)),
        ArtifactCheck::Bytes(bytes) => {
            let mut h = ArtifactHasher::new();
            h.update(bytes);
            Some(h.finalize())
        }
        ArtifactCheck::None => None,
    };
    if let Some((size, digest)) = actual {
        if size != claims.size {
            return Err(Error::new(
                ErrorCode::DigestMismatch,
                alloc::format!(
                    "artifact is {size} bytes, the manifest states {}",
                    claims.size
                ),
            ));
        }
        if digest != claims.sha256 {
            return Err(Error::new(
                ErrorCode::DigestMismatch,
                alloc::format!(
                    "artifact SHA-256 is {}, the manifest states {}",
                    hex_encode(&digest),
                    hex_encode(&claims.sha256)
                ),
            ));
        }
    }
    Ok(VerifiedManifest {
        digest: manifest_digest(env),
        claims,
        signers: verified.signers,
    })
}
