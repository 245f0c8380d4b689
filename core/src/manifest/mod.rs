//! Signed artifact manifests and the streaming artifact hasher.
//!
//! A manifest is a DSSE envelope of type [`MANIFEST_PAYLOAD_TYPE`] whose payload is the
//! postcard encoding of [`ManifestClaims`]: an artifact's name, size, SHA-256, media type and
//! metadata. Any number of signers may sign it; a verifier requires a threshold of distinct
//! trusted signers ([`verify_manifest`]).
//!
//! A manifest's identity is [`manifest_digest`], SHA-256 of the signed bytes
//! `PAE(payload_type, payload)`: adding a co-signature does not change it, so a ledger can
//! name the manifest before every signer has signed.
//!
//! Artifacts are never held in memory by necessity: [`ArtifactHasher`] hashes a stream chunk
//! by chunk and [`ArtifactCheck::Digest`] takes its result.

mod claims;
mod hasher;
#[cfg(feature = "std")]
mod sign;
mod verify;

pub use claims::{
    ManifestClaims, MAX_ARTIFACT_NAME_LEN, MAX_MEDIA_TYPE_LEN, MAX_METADATA_ENTRIES,
    MAX_METADATA_KEY_LEN, MAX_METADATA_VALUE_LEN,
};
#[cfg(feature = "std")]
pub use hasher::hash_reader;
pub use hasher::ArtifactHasher;
#[cfg(feature = "std")]
pub use sign::{add_cosignature, sign_manifest};
pub use verify::{manifest_digest, verify_manifest, ArtifactCheck, VerifiedManifest};

/// DSSE payload type of an artifact manifest.
pub const MANIFEST_PAYLOAD_TYPE: &str = "application/vnd.cairn.manifest.v1+postcard";
/// The manifest format version this build reads and writes.
pub const MANIFEST_VERSION: u8 = 1;
/// Largest manifest payload accepted, in bytes.
pub const MAX_MANIFEST_PAYLOAD_LEN: usize = 96 * 1024;
