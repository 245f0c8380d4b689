//! The redb-backed registry (feature `store`).

mod error;
mod nodes;
mod paths;
mod seal;

pub use error::{StoreCode, StoreError, StoreResult};
pub use nodes::{Endpoint, NodeSpec, Provenance};
pub use paths::{default_path, CAIRN_HOME, REGISTRY_FILE};
pub use seal::{KdfParams, Passphrase, Protection, Sealed};
