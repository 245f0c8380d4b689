//! `cairn-store`: cairn's embedded registry, one redb file holding keys, trust roots, nodes,
//! tokens, manifests and the signed ledger with its Merkle tree and checkpoints.
//!
//! Every rule about what is valid lives in `cairn-core`; this crate persists state and applies
//! those rules. See `docs/STORE.md` for the file layout, transactions and durability.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod fsio;
mod integrity;
mod kernel;
mod migrate;
mod objects;
mod registry;
pub mod view;

pub use cairn_core::nodespec::{Endpoint, NodeSpec, Provenance, MAX_SPEC_JSON_LEN};
pub use error::{StoreCode, StoreError, StoreResult};
pub use integrity::audit::AuditReport;
pub use integrity::export::{
    verify_export, ExportExpectation, ExportReport, ExportWriter, EXPORT_MAGIC, MAX_FRAME_LEN,
};
pub use kernel::anchor::{anchor_path, Anchor, AnchorDue};
pub use kernel::checkpoints::StoredCheckpoint;
pub use kernel::db::{panic_message, Clock, Committed, LogSignObserver, Registry, Txn};
pub use kernel::entries::SignedEntry;
pub use kernel::head::VerifiedHead;
pub use kernel::paths::{default_path, CAIRN_HOME, REGISTRY_FILE};
pub use kernel::revmap::RevocationStatus;
pub use kernel::schema::SCHEMA_VERSION;
pub use migrate::{backup_path, Migration};
pub use objects::blux_import::{BluxImport, BluxObject, BluxRejected};
pub use objects::cosignatures::{StoredCosignature, MAX_COSIGNATURES};
pub use objects::envelope_keys::{
    EnvelopeKeyInfo, ENVELOPE_SECRET_LEN, MAX_ENVELOPE_PUBLIC_KEY_LEN,
};
pub use objects::handles::{identity_digest, HandleInfo, MAX_SEALED_IDENTITY_LEN};
pub use objects::keys::{KeyInfo, KeySpec, KeyStatus, PrivatePart, WeakerAlgorithm};
pub use objects::manifests::ManifestInfo;
pub use objects::nodes::{NodeInfo, NodePage, NodeQuery};
pub use objects::peers::{
    OwnBootstrapPins, PeerIdentity, PeerInfo, ProposedKey, Received, Verification,
};
pub use objects::seal::{KdfParams, Passphrase, Protection, Sealed};
pub use objects::tokens::{Revocation, TokenInfo, TokenRequest, Unrecorded};
pub use objects::trustroots::{signs_next_trust_root, StoredTrustRoot, TrustRootSpec};
pub use registry::{CreateOptions, MAX_ORIGIN_LEN};
