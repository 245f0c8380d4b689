//! The storage kernel: the redb tables and schema record, the Merkle node store, the ledger's
//! entries, checkpoints and the commit path. Nothing here knows what an object means; the
//! objects layer builds on it.

pub(crate) mod anchor;
pub(crate) mod checkpoints;
pub(crate) mod db;
pub(crate) mod entries;
pub(crate) mod head;
pub(crate) mod known;
pub(crate) mod log;
pub(crate) mod paths;
pub(crate) mod proven;
pub(crate) mod revmap;
pub(crate) mod schema;
pub(crate) mod tree;
