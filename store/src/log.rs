//! Reading the ledger: entries, the chain head, the tree root and proofs.

use redb::ReadableTable;

use super::error::{StoreError, StoreResult};
use super::registry::Registry;
use super::schema::{ENTRIES, TREE};
use super::tree::TreeView;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::Digest;
use cairn_core::ledger::{entry_hash, ChainHead, LedgerEntry};
use cairn_core::merkle::{self, ConsistencyProof, InclusionProof};

/// A ledger entry as stored: the signed envelope and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEntry {
    /// The decoded entry.
    pub entry: LedgerEntry,
    /// The DSSE envelope: payload = entry bytes, signed by the log key (and any consenting
    /// keys).
    pub envelope: Envelope,
}

impl SignedEntry {
    /// SHA-256 of the entry bytes (what the next entry's `prev_hash` names).
    pub fn hash(&self) -> Digest {
        entry_hash(&self.envelope.payload)
    }

    /// The entry's Merkle leaf hash.
    pub fn leaf_hash(&self) -> Digest {
        merkle::leaf_hash(&self.envelope.payload)
    }
}

/// Decodes a stored entry without verifying signatures (the audit does that). A stored entry
/// that does not decode, or whose sequence number is not its key, is `corrupt`-like and is
/// reported against `seq`.
pub(crate) fn decode_entry(seq: u64, bytes: &[u8]) -> StoreResult<SignedEntry> {
    let envelope = Envelope::from_compact(bytes).map_err(|e| {
        StoreError::from(e)
            .context("stored entry envelope")
            .at_seq(seq)
    })?;
    let entry =
        LedgerEntry::from_bytes(&envelope.payload).map_err(|e| StoreError::from(e).at_seq(seq))?;
    if entry.seq != seq {
        return Err(StoreError::core(
            cairn_core::ErrorCode::ChainBroken,
            format!(
                "the entry stored under {seq} says it is entry {}",
                entry.seq
            ),
        )
        .at_seq(seq));
    }
    Ok(SignedEntry { entry, envelope })
}

/// Number of entries: one more than the last stored sequence number.
pub(crate) fn tree_size(entries: &impl ReadableTable<u64, &'static [u8]>) -> StoreResult<u64> {
    Ok(entries.last()?.map_or(0, |(k, _)| k.value() + 1))
}

/// The chain head after the last stored entry.
pub(crate) fn read_head(
    entries: &impl ReadableTable<u64, &'static [u8]>,
) -> StoreResult<ChainHead> {
    match entries.last()? {
        None => Ok(ChainHead::GENESIS),
        Some((k, v)) => {
            let e = decode_entry(k.value(), v.value())?;
            Ok(ChainHead {
                next_seq: e.entry.seq + 1,
                head_hash: e.hash(),
                last_time: e.entry.time,
            })
        }
    }
}

/// The root of the stored tree at `size`.
pub(crate) fn root_at(
    tree: &impl ReadableTable<(u8, u64), [u8; 32]>,
    tree_size: u64,
    size: u64,
) -> StoreResult<Digest> {
    TreeView::new(tree, tree_size).run(|v| merkle::tree_root(v, size))
}

impl Registry {
    /// Entry `seq`.
    pub fn entry(&self, seq: u64) -> StoreResult<SignedEntry> {
        let rtx = self.read_tx()?;
        let t = rtx.open_table(ENTRIES)?;
        let v = t
            .get(seq)?
            .ok_or_else(|| StoreError::not_found(format!("no ledger entry {seq}")))?;
        decode_entry(seq, v.value())
    }

    /// The newest `n` entries, oldest first.
    pub fn tail(&self, n: u64) -> StoreResult<Vec<SignedEntry>> {
        let rtx = self.read_tx()?;
        let t = rtx.open_table(ENTRIES)?;
        let size = tree_size(&t)?;
        let mut out = Vec::new();
        for row in t.range(size.saturating_sub(n)..)? {
            let (k, v) = row?;
            out.push(decode_entry(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// Entries `from..to` (clamped to the ledger), oldest first.
    pub fn entries(&self, from: u64, to: u64) -> StoreResult<Vec<SignedEntry>> {
        let rtx = self.read_tx()?;
        let t = rtx.open_table(ENTRIES)?;
        let mut out = Vec::new();
        for row in t.range(from..to.max(from))? {
            let (k, v) = row?;
            out.push(decode_entry(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// The chain head: next sequence number, hash and time of the newest entry.
    pub fn head(&self) -> StoreResult<ChainHead> {
        read_head(&self.read_tx()?.open_table(ENTRIES)?)
    }

    /// The Merkle root at `size` (any size up to the current one), from O(log n) reads.
    pub fn root(&self, size: u64) -> StoreResult<Digest> {
        let rtx = self.read_tx()?;
        let n = tree_size(&rtx.open_table(ENTRIES)?)?;
        root_at(&rtx.open_table(TREE)?, n, size)
    }

    /// Inclusion proof of entry `seq` in the tree of `size` entries (O(log n) reads).
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> StoreResult<InclusionProof> {
        let rtx = self.read_tx()?;
        let n = tree_size(&rtx.open_table(ENTRIES)?)?;
        let tree = rtx.open_table(TREE)?;
        let path = TreeView::new(&tree, n).run(|v| merkle::prove_inclusion(v, seq, size))?;
        Ok(InclusionProof {
            leaf_index: seq,
            tree_size: size,
            hashes: path,
        })
    }

    /// Consistency proof from the tree of `old_size` entries to the tree of `new_size`
    /// (O(log n) reads).
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> StoreResult<ConsistencyProof> {
        let rtx = self.read_tx()?;
        let n = tree_size(&rtx.open_table(ENTRIES)?)?;
        let tree = rtx.open_table(TREE)?;
        let path =
            TreeView::new(&tree, n).run(|v| merkle::prove_consistency(v, old_size, new_size))?;
        Ok(ConsistencyProof {
            old_size,
            new_size,
            hashes: path,
        })
    }
}
