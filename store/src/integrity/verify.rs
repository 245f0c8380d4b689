//! What opening a registry checks: cheap (O(log n)) and enough to refuse a file whose newest
//! checkpoint, tree and newest entry disagree. The full check of every entry and record is
//! [`Registry::audit`](super::Registry::audit).

use redb::{ReadTransaction, ReadableTable};

use crate::error::{StoreError, StoreResult};
use crate::kernel::checkpoints::{open_note, CheckpointRecord};
use crate::kernel::entries::{decode_entry, root_at, tree_size};
use crate::kernel::head::VerifiedHead;
use crate::kernel::schema::{self, CHECKPOINTS, ENTRIES, TREE};
use crate::objects::keys::KeyRecord;
use cairn_core::encoding::{b64_encode, Digest};
use cairn_core::error::ErrorCode;

/// The stored tree must hold exactly `n` leaves.
pub(crate) fn check_tree_size(
    tree: &impl ReadableTable<(u8, u64), [u8; 32]>,
    n: u64,
) -> StoreResult<()> {
    if n > 0 && tree.get((0, n - 1))?.is_none() {
        return Err(StoreError::corrupt(format!(
            "the ledger has {n} entries but the Merkle tree lacks leaf {}",
            n - 1
        ))
        .at_seq(n - 1));
    }
    if tree.get((0, n))?.is_some() {
        return Err(StoreError::corrupt(format!(
            "the Merkle tree has a leaf {n} but the ledger has only {n} entries (entries were removed)"
        ))
        .at_seq(n));
    }
    Ok(())
}

/// Verifies the checkpoint stored at `size` against the stored tree: signature by its key,
/// origin, size, and root. Returns the root.
pub(crate) fn check_checkpoint(
    tree: &impl ReadableTable<(u8, u64), [u8; 32]>,
    n: u64,
    size: u64,
    rec: &CheckpointRecord,
    origin: &str,
    key: &KeyRecord,
) -> StoreResult<Digest> {
    let ctx = |e: StoreError| e.context(&format!("checkpoint at size {size}"));
    let (claimed_size, claimed_root) =
        open_note(&rec.note, origin, &key.public_key).map_err(ctx)?;
    if claimed_size != size {
        return Err(ctx(StoreError::corrupt(format!(
            "the note says size {claimed_size} but is stored under {size}"
        ))));
    }
    if size > n {
        return Err(ctx(StoreError::core(
            ErrorCode::ChainBroken,
            format!("it covers {size} entries but the ledger holds only {n}: entries from {n} on are missing"),
        )
        .at_seq(n)));
    }
    let stored = root_at(tree, n, size)?;
    if stored != claimed_root {
        return Err(ctx(StoreError::core(
            ErrorCode::ProofInvalid,
            format!(
                "its signed root is {} but the stored tree gives {}",
                b64_encode(&claimed_root),
                b64_encode(&stored)
            ),
        )));
    }
    Ok(stored)
}

/// The checks every open makes, O(log n) in the ledger's size: the signed head (signature by
/// the log key, its size equal to the number of stored entries, its root equal to the stored
/// tree's), the newest entry as the tree's last leaf, and the newest published checkpoint.
/// Returns the verified head.
pub(crate) fn verify_on_open(
    rtx: &ReadTransaction,
    origin: &str,
    log_key: &KeyRecord,
) -> StoreResult<VerifiedHead> {
    let entries = rtx.open_table(ENTRIES)?;
    let tree = rtx.open_table(TREE)?;
    let n = tree_size(&entries)?;
    let head = verify_head(rtx, &tree, n, origin, log_key)?;
    check_tree_size(&tree, n)?;
    let cps = rtx.open_table(CHECKPOINTS)?;
    let (k, v) = cps.last()?.ok_or_else(|| {
        StoreError::corrupt("the registry has no checkpoint (one is written at creation)")
    })?;
    let size = k.value();
    let rec: CheckpointRecord = schema::decode(v.value(), "checkpoint")?;
    let log_id = log_key.public_key.key_id();
    if rec.key_id != log_id {
        return Err(StoreError::corrupt(format!(
            "the newest checkpoint (size {size}) is signed by {}, not by the log key {log_id}",
            rec.key_id
        )));
    }
    check_checkpoint(&tree, n, size, &rec, origin, log_key)?;
    if n > 0 {
        let seq = n - 1;
        let v = entries
            .get(seq)?
            .ok_or_else(|| StoreError::corrupt("the newest entry vanished").at_seq(seq))?;
        let newest = decode_entry(seq, v.value())?;
        let leaf = tree.get((0, seq))?.map(|h| h.value());
        if leaf != Some(newest.leaf_hash()) {
            return Err(StoreError::core(
                ErrorCode::ProofInvalid,
                "the newest entry is not the Merkle tree's last leaf",
            )
            .at_seq(seq));
        }
    }
    Ok(head)
}

/// Verifies the signed head against a ledger of `n` stored entries, with the log key's record.
pub(crate) fn verify_head(
    rtx: &ReadTransaction,
    tree: &impl ReadableTable<(u8, u64), [u8; 32]>,
    n: u64,
    origin: &str,
    log_key: &KeyRecord,
) -> StoreResult<VerifiedHead> {
    crate::kernel::head::verify_head(rtx, tree, n, origin, &log_key.public_key)
}
