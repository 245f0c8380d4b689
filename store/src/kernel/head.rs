//! The signed head: the log key's signature over the whole tree, renewed by every commit that
//! appends entries (schema 2). Entries are not signed one by one; the head is what makes the
//! newest entries, and through the Merkle tree every older one, tamper-evident.
//!
//! A head is a C2SP `tlog-checkpoint` note signed by the log key under the log's origin, the
//! same format as a published checkpoint: publishing a checkpoint at the head's size stores the
//! head's note, and a transaction that published one signs no second note.

use cairn_core::checkpoint::Checkpoint as CheckpointBody;
use cairn_core::crypto::{PublicKey, SigningKey};
use cairn_core::encoding::Digest;

use crate::error::StoreResult;

/// Signs a checkpoint note for (origin, size, root) under the key name `origin`.
pub(crate) fn sign_note(
    origin: &str,
    size: u64,
    root: &Digest,
    key: &SigningKey,
) -> StoreResult<String> {
    Ok(CheckpointBody::new(origin, size, *root).sign(&[(origin, key)])?)
}

/// Verifies a checkpoint note for `origin` signed (every line, both halves of a hybrid) by
/// `key` under the key name `origin`; returns (size, root).
pub(crate) fn open_note(note: &str, origin: &str, key: &PublicKey) -> StoreResult<(u64, Digest)> {
    Ok(cairn_core::ledger::export::open_log_note(
        note, origin, key,
    )?)
}

/// A head whose signature, size and root were verified against the stored tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedHead {
    /// Entries it covers (the whole ledger).
    pub size: u64,
    /// Merkle root at that size.
    pub root: Digest,
}
