//! The signed claims of an artifact manifest: fields, limits and canonical encoding.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{MANIFEST_PAYLOAD_TYPE, MANIFEST_VERSION, MAX_MANIFEST_PAYLOAD_LEN};
use crate::dsse::Envelope;
use crate::encoding::{from_postcard_canonical, hex_encode, to_postcard, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// Longest artifact name, in bytes.
pub const MAX_ARTIFACT_NAME_LEN: usize = 255;
/// Longest media type, in bytes.
pub const MAX_MEDIA_TYPE_LEN: usize = 255;
/// Most metadata entries.
pub const MAX_METADATA_ENTRIES: usize = 64;
/// Longest metadata key, in bytes.
pub const MAX_METADATA_KEY_LEN: usize = 128;
/// Longest metadata value, in bytes.
pub const MAX_METADATA_VALUE_LEN: usize = 1024;

/// What a manifest says about one artifact. The field order is the wire order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestClaims {
    /// Format version, [`MANIFEST_VERSION`] (= 1).
    pub version: u8,
    /// The artifact's file name: 1 to 255 bytes of UTF-8, a plain name (no `/`, `\`, control
    /// characters, and not `.` or `..`) so that using it as a file name cannot escape a
    /// directory.
    pub name: String,
    /// The artifact's size in bytes.
    pub size: u64,
    /// SHA-256 of the artifact's bytes.
    pub sha256: Digest,
    /// The artifact's media type, e.g. `application/octet-stream`: 1 to 255 bytes of
    /// printable ASCII (spaces allowed, for parameters).
    pub media_type: String,
    /// Free-form metadata (at most 64 entries; keys are 1 to 128 bytes of printable ASCII
    /// without spaces, values at most 1024 bytes of UTF-8). Sorted by key on the wire.
    pub metadata: BTreeMap<String, String>,
    /// When the manifest was made, Unix seconds (informational: verification ignores it).
    pub created_at: UnixTime,
}

fn too_large(what: &str, max: usize) -> Error {
    Error::new(
        ErrorCode::TooLarge,
        alloc::format!("{what} is longer than {max} bytes"),
    )
}

impl ManifestClaims {
    /// Claims for an artifact of `size` bytes with digest `sha256`, no metadata.
    ///
    /// ```
    /// use cairn_core::manifest::{ArtifactHasher, ManifestClaims};
    /// let mut h = ArtifactHasher::new();
    /// h.update(b"hello");
    /// let (size, sha256) = h.finalize();
    /// let claims = ManifestClaims::new("hello.txt", "text/plain", size, sha256, 1_700_000_000);
    /// assert!(claims.validate().is_ok());
    /// ```
    pub fn new(
        name: &str,
        media_type: &str,
        size: u64,
        sha256: Digest,
        created_at: UnixTime,
    ) -> ManifestClaims {
        ManifestClaims {
            version: MANIFEST_VERSION,
            name: name.into(),
            size,
            sha256,
            media_type: media_type.into(),
            metadata: BTreeMap::new(),
            created_at,
        }
    }

    /// Checks every rule of the format: version, name, media type and metadata limits.
    pub fn validate(&self) -> Result<()> {
        if self.version != MANIFEST_VERSION {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("manifest version {} is not supported", self.version),
            ));
        }
        let name = &self.name;
        if name.len() > MAX_ARTIFACT_NAME_LEN {
            return Err(too_large("artifact name", MAX_ARTIFACT_NAME_LEN));
        }
        if name.is_empty()
            || name == "."
            || name == ".."
            || name
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control())
        {
            return Err(Error::malformed(alloc::format!(
                "artifact name {name:?} is not a plain file name"
            )));
        }
        if self.media_type.len() > MAX_MEDIA_TYPE_LEN {
            return Err(too_large("media type", MAX_MEDIA_TYPE_LEN));
        }
        if self.media_type.is_empty() || !self.media_type.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(Error::malformed(
                "media type must be 1 or more bytes of printable ASCII",
            ));
        }
        if self.metadata.len() > MAX_METADATA_ENTRIES {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("more than {MAX_METADATA_ENTRIES} metadata entries"),
            ));
        }
        for (k, v) in &self.metadata {
            if k.len() > MAX_METADATA_KEY_LEN {
                return Err(too_large("metadata key", MAX_METADATA_KEY_LEN));
            }
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::malformed(alloc::format!(
                    "metadata key {k:?} must be printable ASCII without spaces"
                )));
            }
            if v.len() > MAX_METADATA_VALUE_LEN {
                return Err(too_large("metadata value", MAX_METADATA_VALUE_LEN));
            }
        }
        Ok(())
    }

    /// Decodes and validates a manifest payload (version byte first, canonical encoding).
    /// This authenticates nothing: use [`super::verify_manifest`].
    pub fn from_payload(payload: &[u8]) -> Result<ManifestClaims> {
        if payload.len() > MAX_MANIFEST_PAYLOAD_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("manifest payload is larger than {MAX_MANIFEST_PAYLOAD_LEN} bytes"),
            ));
        }
        match payload.first() {
            None => return Err(Error::malformed("manifest payload is empty")),
            Some(&v) if v != MANIFEST_VERSION => {
                return Err(Error::new(
                    ErrorCode::UnsupportedVersion,
                    alloc::format!("manifest version {v} is not supported"),
                ))
            }
            Some(_) => {}
        }
        let claims: ManifestClaims =
            from_postcard_canonical(payload, MAX_MANIFEST_PAYLOAD_LEN, "manifest claims")?;
        claims.validate()?;
        Ok(claims)
    }

    /// Validates the claims and returns their canonical postcard encoding.
    pub fn to_payload(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let payload = to_postcard(self);
        if payload.len() > MAX_MANIFEST_PAYLOAD_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("manifest payload is larger than {MAX_MANIFEST_PAYLOAD_LEN} bytes"),
            ));
        }
        Ok(payload)
    }

    /// An unsigned envelope holding these claims, ready for signers.
    pub fn to_envelope(&self) -> Result<Envelope> {
        Envelope::new(MANIFEST_PAYLOAD_TYPE, self.to_payload()?)
    }

    /// The JSON view used by the CLI and JavaScript (digest in lowercase hex).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "version": self.version,
            "name": self.name,
            "size": self.size,
            "sha256": hex_encode(&self.sha256),
            "media_type": self.media_type,
            "metadata": self.metadata,
            "created_at": self.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_first() {
        let mut c = ManifestClaims::new("a.tar", "application/x-tar", 3, [9; 32], 5);
        c.metadata.insert("k".into(), "v".into());
        let bytes = c.to_payload().unwrap();
        assert_eq!(ManifestClaims::from_payload(&bytes).unwrap(), c);
        assert_eq!(
            ManifestClaims::from_payload(&[7, 0]).unwrap_err().code(),
            ErrorCode::UnsupportedVersion
        );
        assert_eq!(
            ManifestClaims::from_payload(&[]).unwrap_err().code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            ManifestClaims::from_payload(&alloc::vec![1; MAX_MANIFEST_PAYLOAD_LEN + 1])
                .unwrap_err()
                .code(),
            ErrorCode::TooLarge
        );
    }
}
