//! `cairn-store`: cairn's embedded registry, one redb file holding keys, trust roots, nodes,
//! tokens, manifests and the signed ledger with its Merkle tree and checkpoints.
//!
//! Every rule about what is valid lives in `cairn-core`; this crate persists state and applies
//! those rules. See `docs/STORE.md` for the file layout, transactions and durability.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod audit;
mod audit_objects;
mod blux_import;
mod bundles;
mod checkpoints;
mod error;
mod export;
mod keys;
mod log;
mod manifests;
mod nodes;
mod nodespec;
mod paths;
mod registry;
mod rules;
mod schema;
mod seal;
mod tokens;
mod tree;
mod trustroots;
mod verify;

pub use audit::AuditReport;
pub use blux_import::{BluxImport, BluxObject, BluxRejected};
pub use checkpoints::StoredCheckpoint;
pub use error::{StoreCode, StoreError, StoreResult};
pub use export::{
    verify_export, ExportExpectation, ExportReport, ExportWriter, EXPORT_MAGIC, MAX_FRAME_LEN,
};
pub use keys::{KeyInfo, KeySpec, KeyStatus, PrivatePart};
pub use log::SignedEntry;
pub use manifests::ManifestInfo;
pub use nodes::NodeInfo;
pub use nodespec::{Endpoint, NodeSpec, Provenance, MAX_SPEC_JSON_LEN};
pub use paths::{default_path, CAIRN_HOME, REGISTRY_FILE};
pub use registry::{Clock, CreateOptions, Registry, Txn, MAX_ORIGIN_LEN};
pub use schema::SCHEMA_VERSION;
pub use seal::{KdfParams, Passphrase, Protection, Sealed};
pub use tokens::{Revocation, TokenInfo, TokenRequest};
pub use trustroots::{StoredTrustRoot, TrustRootSpec};
