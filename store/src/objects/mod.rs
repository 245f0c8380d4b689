//! The objects a registry holds — keys (sealed at rest), trust roots, nodes, tokens, manifests
//! — and the operations on them. Every change goes through the ledger rule book
//! ([`rules`]) before the kernel stores its entry.

pub(crate) mod blux_import;
pub(crate) mod bundles;
pub(crate) mod cosignatures;
pub(crate) mod envelope_keys;
pub(crate) mod handles;
pub(crate) mod keys;
pub(crate) mod manifests;
pub(crate) mod nodes;
pub(crate) mod open_keys;
pub(crate) mod peers;
pub(crate) mod rules;
pub(crate) mod seal;
pub(crate) mod tokens;
pub(crate) mod trustroots;
pub(crate) mod verified;
