//! Integrity: what opening a registry checks, the full audit (every entry replayed through
//! the rule book, every record compared with the ledger), and the verification of another
//! registry's ledger export.

pub(crate) mod audit;
pub(crate) mod audit_objects;
pub(crate) mod export;
pub(crate) mod verify;
