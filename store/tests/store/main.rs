//! cairn-store's integration tests, one binary: each module is one area of the registry.

mod blux;
#[cfg(unix)]
mod crash;
mod damage;
mod export;
mod export_vectors;
mod handles;
mod lifecycle;
mod migrate;
mod ops;
mod peer;
mod peer_tcp;
mod props;
mod revocation;
mod rollback;
mod rules;
mod tamper;

#[path = "../../../core/tests/support/mod.rs"]
mod support;
