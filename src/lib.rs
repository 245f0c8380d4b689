//! # cairn
//!
//! An embedded trust registry: keys, capability tokens, signed artifact manifests and an
//! append-only, Merkle-tree ledger with signed checkpoints, all verifiable offline.
//!
//! This crate is the command-line tool and a thin facade over [`cairn_core`], where every
//! format and verifier lives; library users can depend on either.
//!
//! ```
//! use cairn::core::crypto::{Algorithm, SigningKey};
//! let key = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
//! assert_eq!(key.public_key().algorithm().name(), "ed25519+ml-dsa-44");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use cairn_core as core;
pub use cairn_core::{Error, ErrorCode, Result, UnixTime};
pub use cairn_store as store;
