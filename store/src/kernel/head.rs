//! The signed head: the log key's signature over the whole tree, renewed by every commit that
//! appends entries (schema 2). Entries are not signed one by one; the head is what makes the
//! newest entries, and through the Merkle tree every older one, tamper-evident.
//!
//! A head is a C2SP `tlog-checkpoint` note signed by the log key under the log's origin, the
//! same format as a published checkpoint: publishing a checkpoint at the head's size stores the
//! head's note, and a transaction that published one signs no second note.

use redb::{ReadTransaction, ReadableTable};

use cairn_core::checkpoint::Checkpoint as CheckpointBody;
use cairn_core::crypto::{PublicKey, SigningKey};
use cairn_core::encoding::{b64_encode, Digest};
use cairn_core::ErrorCode;

use crate::error::{StoreError, StoreResult};
use crate::kernel::entries::root_at;
use crate::kernel::schema::{self, META};

/// Signs a checkpoint note for (origin, size, root) under the key name `origin`.
pub(crate) fn sign_note(
    origin: &str,
    size: u64,
    root: &Digest,
    key: &SigningKey,
) -> StoreResult<String> {
    sign_body(origin, &CheckpointBody::new(origin, size, *root), key)
}

/// Signs a checkpoint body (with its extension lines) under the key name `origin`.
pub(crate) fn sign_body(
    origin: &str,
    body: &CheckpointBody,
    key: &SigningKey,
) -> StoreResult<String> {
    Ok(body.sign(&[(origin, key)])?)
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

/// Verifies the signed head of `rtx`'s snapshot against its `n` stored entries: signed by
/// `log_key` under `origin`, covering exactly `n` entries, its root the stored tree's.
pub(crate) fn verify_head(
    rtx: &ReadTransaction,
    tree: &impl ReadableTable<(u8, u64), [u8; 32]>,
    n: u64,
    origin: &str,
    log_key: &PublicKey,
) -> StoreResult<VerifiedHead> {
    let rec = schema::read_head_record(&rtx.open_table(META)?)?;
    let log_id = log_key.key_id();
    if rec.key_id != log_id {
        return Err(StoreError::corrupt(format!(
            "the signed head is by {}, not by the log key {log_id}",
            rec.key_id
        )));
    }
    let (size, root) =
        open_note(&rec.note, origin, log_key).map_err(|e| e.context("the signed head"))?;
    if n > size {
        return Err(StoreError::corrupt(format!(
            "the ledger holds {n} entries but the signed head covers {size}: entries from {size} on were added behind the registry's back"
        ))
        .at_seq(size));
    }
    if n < size {
        return Err(StoreError::core(
            ErrorCode::ChainBroken,
            format!("the signed head covers {size} entries but the ledger holds only {n}: entries from {n} on are missing"),
        )
        .at_seq(n));
    }
    let stored = root_at(tree, n, n)?;
    if stored != root {
        return Err(StoreError::core(
            ErrorCode::ProofInvalid,
            format!(
                "the signed head's root is {} but the stored tree gives {}",
                b64_encode(&root),
                b64_encode(&stored)
            ),
        ));
    }
    Ok(VerifiedHead { size, root })
}

/// The stored revocation map is the one the signed head's `cairn.revocations` line commits
/// to. Every commit signs the map as it leaves it, so they differ only when the map was edited
/// behind the registry; the next head would sign the edited map, and its false
/// non-revocations with it. A read-write open checks it (a read-only one writes nothing, and
/// stays open for the audit, which reports the difference; proofs from such a map do not
/// verify against the signed line). A file without the map (from before it, or with its
/// table removed) passes: the next write rebuilds the map from the ledger.
pub(crate) fn check_revocation_map(rtx: &ReadTransaction) -> StoreResult<()> {
    let note = schema::read_head_record(&rtx.open_table(META)?)?.note;
    let note = note.as_str();
    let Some(stored) = crate::kernel::revmap::read_ref(rtx)? else {
        return Ok(());
    };
    let line = cairn_core::note::Note::parse(note.as_bytes())
        .and_then(|n| cairn_core::checkpoint::Checkpoint::parse_text(n.text()))
        .and_then(|c| c.revocations())
        .map_err(|e| StoreError::from(e.context("the signed head")))?;
    match line {
        Some(signed) if signed != stored => Err(StoreError::corrupt(format!(
            "the stored revocation map holds {stored} but the signed head commits to {signed}: the map was changed behind the registry"
        ))),
        _ => Ok(()),
    }
}
