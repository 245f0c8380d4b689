//! # cairn-core
//!
//! The formats and offline verifiers of cairn, an embedded trust registry. Everything in this
//! crate without a feature gate is `no_std` + `alloc`, pure (no I/O, no clock: callers pass
//! `now` as Unix seconds, no randomness) and safe on untrusted input: every parser and
//! verifier returns a typed [`Error`] with a stable [`ErrorCode`] and never panics.
//!
//! | module | what it holds |
//! |---|---|
//! | [`crypto`] | Ed25519, ML-DSA-44/65, hybrids, key ids, PEM |
//! | [`dsse`] | DSSE envelopes (PAE, JSON and compact binary forms, threshold verification) |
//! | [`token`] | capability tokens with delegation chains |
//! | [`manifest`] | signed artifact manifests and the streaming artifact hasher |
//! | [`ledger`] | ledger entries, events and hash-chain verification |
//! | [`merkle`] | RFC 6962 / 9162 Merkle hashing and proofs |
//! | [`nodespec`] | node specifications: the document a node registers, validated field by field |
//! | [`note`] | C2SP signed notes |
//! | [`checkpoint`] | C2SP tlog-checkpoints signed by cairn |
//! | [`witness`] | C2SP tlog-cosignatures: witness keys, cosigning, k-of-n quorums, split views |
//! | [`revocation`] | the revocation map: membership and non-membership proofs of revoked objects |
//! | [`tiles`] | C2SP tlog-tiles: tile paths and a tile client that proves from tiles alone |
//! | [`trust`] | trust roots and their rotation chains |
//! | [`bundle`] | self-contained bundles and `verify_bundle` |
//! | `handle` | (feature `handle`) the handle registry's pure part: normalisation, blind index, HPKE envelopes, proof of work |
//! | [`http`] | the credentials of an HTTP write: `Authorization` token, `Cairn-Proof` proof of possession |
//! | [`peer`] | peer key exchange: signed key requests and responses, replay protection, vouching |
//! | [`blux`] | blux-reg v1.0 interop (canonical JSON, tokens, manifests, ledgers) |
//! | [`view`] | the JSON view of each object, shared by the CLI, the wasm package and the web page |
//!
//! Features: `std` (default) adds key generation and signing; `legacy-dilithium` adds
//! round-3 Dilithium (native only); `handle` adds the `handle` module (off by default: the
//! browser build does not need it). docs/FORMATS.md specifies every byte.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod blux;
pub mod bundle;
pub mod calendar;
pub mod checkpoint;
pub mod crypto;
pub mod dsse;
pub mod encoding;
pub mod error;
#[cfg(feature = "handle")]
pub mod handle;
pub mod http;
pub(crate) mod json_read;
pub mod ledger;
pub mod manifest;
pub mod merkle;
pub mod nodespec;
pub mod note;
pub mod peer;
pub mod revocation;
pub mod tiles;
pub mod token;
pub mod trust;
pub mod view;
pub mod witness;

pub use error::{Error, ErrorCode, Result};

/// A point in time: seconds since the Unix epoch, UTC. cairn-core never reads a clock;
/// verifiers take `now` from the caller.
pub type UnixTime = u64;
