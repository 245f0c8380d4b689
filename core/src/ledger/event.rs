//! The events a registry records: one enum, one variant per kind of state change.
//!
//! On the wire an event is postcard's enum encoding: the variant index as a varint, then the
//! fields in order. The indices are frozen (docs/FORMATS.md lists them); new kinds are only
//! ever appended, and a reader meets an index it does not know with `unsupported_version`.
//!
//! Checkpoints are deliberately not events: a checkpoint commits to the tree of entries, so
//! recording it as an entry would make the tree commit to its own commitment.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::crypto::{KeyId, PublicKey};
use crate::encoding::{hex32, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::trust::RoleSet;
use crate::UnixTime;

/// Longest key label, in bytes.
pub const MAX_LABEL_LEN: usize = 128;
/// Longest identifier (node id, peer id, token audience), in bytes.
pub const MAX_ID_LEN: usize = 256;
/// Longest revocation or removal reason, in bytes.
pub const MAX_REASON_LEN: usize = 1024;
/// Longest artifact name or import source, in bytes.
pub const MAX_NAME_LEN: usize = 1024;
/// Longest audit note, in bytes.
pub const MAX_TEXT_LEN: usize = 4096;
/// Most signer key ids one manifest event lists.
pub const MAX_SIGNERS: usize = 32;

/// One state change of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// 0: a key was added to the registry. Its id is `public_key.key_id()`.
    KeyAdded {
        /// The key (algorithm and bytes).
        public_key: PublicKey,
        /// Human-readable label.
        label: String,
        /// What the key is for.
        roles: RoleSet,
        /// When the key stops being valid, if ever.
        expires_at: Option<UnixTime>,
    },
    /// 1: `old` was replaced by `new` (added earlier by `KeyAdded`).
    KeyRotated {
        /// The retired key.
        old: KeyId,
        /// Its replacement.
        new: KeyId,
    },
    /// 2: a key was revoked.
    KeyRevoked {
        /// The revoked key.
        key_id: KeyId,
        /// Why.
        reason: String,
        /// The key that authorised the revocation.
        revoker: KeyId,
    },
    /// 3: the registry moved to a new trust-root version.
    TrustRootUpdated {
        /// The new root_version.
        root_version: u64,
        /// Its root id.
        #[serde(with = "hex32")]
        root_id: Digest,
    },
    /// 4: a node was registered (or its spec replaced).
    NodeRegistered {
        /// The node's identifier.
        node_id: String,
        /// SHA-256 of the node's spec document.
        #[serde(with = "hex32")]
        spec_digest: Digest,
    },
    /// 5: a node was removed.
    NodeDeregistered {
        /// The node's identifier.
        node_id: String,
        /// Why (may be empty).
        reason: String,
    },
    /// 6: a capability token was issued.
    TokenIssued {
        /// The token's id.
        #[serde(with = "hex32")]
        token_id: Digest,
        /// The issuing key.
        issuer: KeyId,
        /// Who the token is for.
        audience: String,
        /// When the token expires.
        expires_at: UnixTime,
    },
    /// 7: a capability token was revoked.
    TokenRevoked {
        /// The token's id.
        #[serde(with = "hex32")]
        token_id: Digest,
        /// Why.
        reason: String,
        /// The key that authorised the revocation.
        revoker: KeyId,
    },
    /// 8: an artifact manifest was signed.
    ManifestSigned {
        /// The manifest's id.
        #[serde(with = "hex32")]
        manifest_digest: Digest,
        /// The artifact's name.
        artifact_name: String,
        /// SHA-256 of the artifact.
        #[serde(with = "hex32")]
        artifact_sha256: Digest,
        /// Keys that signed (1 to 32, distinct).
        signers: Vec<KeyId>,
    },
    /// 9: more signatures were added to a manifest already signed.
    ManifestCosigned {
        /// The manifest's id (as recorded by `ManifestSigned`).
        #[serde(with = "hex32")]
        manifest_digest: Digest,
        /// The keys that added signatures (1 to 32, distinct).
        signers: Vec<KeyId>,
    },
    /// 10: a manifest was revoked.
    ManifestRevoked {
        /// The manifest's id.
        #[serde(with = "hex32")]
        manifest_digest: Digest,
        /// Why.
        reason: String,
        /// The key that authorised the revocation.
        revoker: KeyId,
    },
    /// 11: a peer's key was stored.
    PeerKeyStored {
        /// The peer's identifier.
        peer_id: String,
        /// The key's id.
        key_id: KeyId,
    },
    /// 12: a stored peer key was verified (e.g. by a signed key exchange).
    PeerKeyVerified {
        /// The peer's identifier.
        peer_id: String,
        /// The key's id.
        key_id: KeyId,
    },
    /// 13: a peer's key was removed.
    PeerKeyRemoved {
        /// The peer's identifier.
        peer_id: String,
        /// The key's id.
        key_id: KeyId,
        /// Why (may be empty).
        reason: String,
    },
    /// 14: data was imported from elsewhere (provenance of migrated state).
    Imported {
        /// Where it came from (e.g. `blux-reg:trust/ledger.jsonl`).
        source: String,
        /// SHA-256 of the imported bytes.
        #[serde(with = "hex32")]
        digest: Digest,
    },
    /// 15: free text an operator recorded.
    AuditNote {
        /// The note.
        text: String,
    },
    /// 16: a handle was registered (`previous: None`) or re-registered with another identity
    /// (`previous`: the identity digest it replaces). The handle itself never appears: only
    /// its peppered blind index (docs/FORMATS.md section 19).
    HandleRegistered {
        /// The handle's blind index.
        #[serde(with = "hex32")]
        blind_index: Digest,
        /// SHA-256 of the identity record as stored (sealed at rest).
        #[serde(with = "hex32")]
        identity_digest: Digest,
        /// The identity digest this registration replaces, for a re-registration.
        previous: Option<PreviousDigest>,
    },
    /// 17: a handle was removed.
    HandleRemoved {
        /// The handle's blind index.
        #[serde(with = "hex32")]
        blind_index: Digest,
        /// The identity digest it held (as recorded by `HandleRegistered`).
        #[serde(with = "hex32")]
        identity_digest: Digest,
        /// Why (may be empty).
        reason: String,
    },
}

/// A replaced identity digest (`HandleRegistered::previous`): SHA-256, hex in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PreviousDigest(#[serde(with = "hex32")] pub Digest);

impl Event {
    /// Names of the kinds, indexed by postcard discriminant (frozen).
    pub const KINDS: [&'static str; 18] = [
        "key_added",
        "key_rotated",
        "key_revoked",
        "trust_root_updated",
        "node_registered",
        "node_deregistered",
        "token_issued",
        "token_revoked",
        "manifest_signed",
        "manifest_cosigned",
        "manifest_revoked",
        "peer_key_stored",
        "peer_key_verified",
        "peer_key_removed",
        "imported",
        "audit_note",
        "handle_registered",
        "handle_removed",
    ];

    /// The postcard discriminant (variant index) of this event.
    pub fn discriminant(&self) -> u32 {
        match self {
            Event::KeyAdded { .. } => 0,
            Event::KeyRotated { .. } => 1,
            Event::KeyRevoked { .. } => 2,
            Event::TrustRootUpdated { .. } => 3,
            Event::NodeRegistered { .. } => 4,
            Event::NodeDeregistered { .. } => 5,
            Event::TokenIssued { .. } => 6,
            Event::TokenRevoked { .. } => 7,
            Event::ManifestSigned { .. } => 8,
            Event::ManifestCosigned { .. } => 9,
            Event::ManifestRevoked { .. } => 10,
            Event::PeerKeyStored { .. } => 11,
            Event::PeerKeyVerified { .. } => 12,
            Event::PeerKeyRemoved { .. } => 13,
            Event::Imported { .. } => 14,
            Event::AuditNote { .. } => 15,
            Event::HandleRegistered { .. } => 16,
            Event::HandleRemoved { .. } => 17,
        }
    }

    /// The kind's name, e.g. `"key_added"`.
    ///
    /// ```
    /// use cairn_core::ledger::Event;
    /// assert_eq!(Event::AuditNote { text: "hi".into() }.kind(), "audit_note");
    /// ```
    pub fn kind(&self) -> &'static str {
        // discriminant() is always below KINDS.len() (the ledger tests check every kind).
        Event::KINDS
            .get(self.discriminant() as usize)
            .copied()
            .unwrap_or("unknown")
    }

    /// Checks the bounds of every field: text lengths, non-empty identifiers, 1 to 32
    /// distinct signers. Oversized fields are `too_large`, the rest `malformed`.
    pub fn validate(&self) -> Result<()> {
        match self {
            Event::KeyAdded { label, .. } => text("label", label, 0, MAX_LABEL_LEN),
            Event::KeyRotated { old, new } => {
                if old == new {
                    return Err(Error::malformed(
                        "key_rotated: old and new are the same key",
                    ));
                }
                Ok(())
            }
            Event::KeyRevoked { reason, .. }
            | Event::TokenRevoked { reason, .. }
            | Event::ManifestRevoked { reason, .. } => text("reason", reason, 0, MAX_REASON_LEN),
            Event::TrustRootUpdated { root_version, .. } => {
                if *root_version == 0 {
                    return Err(Error::malformed(
                        "trust_root_updated: root_version starts at 1",
                    ));
                }
                Ok(())
            }
            Event::NodeRegistered { node_id, .. } => text("node_id", node_id, 1, MAX_ID_LEN),
            Event::NodeDeregistered { node_id, reason } => {
                text("node_id", node_id, 1, MAX_ID_LEN)?;
                text("reason", reason, 0, MAX_REASON_LEN)
            }
            Event::TokenIssued { audience, .. } => text("audience", audience, 1, MAX_ID_LEN),
            Event::ManifestSigned {
                artifact_name,
                signers,
                ..
            } => {
                text("artifact_name", artifact_name, 1, MAX_NAME_LEN)?;
                signer_list(signers)
            }
            Event::ManifestCosigned { signers, .. } => signer_list(signers),
            Event::PeerKeyStored { peer_id, .. } | Event::PeerKeyVerified { peer_id, .. } => {
                text("peer_id", peer_id, 1, MAX_ID_LEN)
            }
            Event::PeerKeyRemoved {
                peer_id, reason, ..
            } => {
                text("peer_id", peer_id, 1, MAX_ID_LEN)?;
                text("reason", reason, 0, MAX_REASON_LEN)
            }
            Event::Imported { source, .. } => text("source", source, 1, MAX_NAME_LEN),
            Event::AuditNote { text: t } => text("text", t, 1, MAX_TEXT_LEN),
            Event::HandleRegistered {
                identity_digest,
                previous,
                ..
            } => {
                if previous.is_some_and(|p| p.0 == *identity_digest) {
                    return Err(Error::malformed(
                        "handle_registered: re-registers the identity it replaces",
                    ));
                }
                Ok(())
            }
            Event::HandleRemoved { reason, .. } => text("reason", reason, 0, MAX_REASON_LEN),
        }
        .map_err(|e| e.context(self.kind()))
    }
}

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!("{field} is {} bytes, the limit is {max}", value.len()),
        ));
    }
    if value.len() < min {
        return Err(Error::malformed(alloc::format!("{field} is empty")));
    }
    Ok(())
}

fn signer_list(signers: &[KeyId]) -> Result<()> {
    if signers.is_empty() {
        return Err(Error::malformed("signers is empty"));
    }
    if signers.len() > MAX_SIGNERS {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!("{} signers, the limit is {MAX_SIGNERS}", signers.len()),
        ));
    }
    for (i, s) in signers.iter().enumerate() {
        if signers[..i].contains(s) {
            return Err(Error::malformed(alloc::format!(
                "signer {s} is listed twice"
            )));
        }
    }
    Ok(())
}
