//! Reading the ledger: entries, the chain head, the tree root and proofs.

use crate::error::StoreResult;
use crate::kernel::db::Registry;
use crate::kernel::entries::{read_head, root_at, tree_size};
use crate::kernel::schema::{ENTRIES, TREE};
use crate::kernel::tree::TreeView;
use cairn_core::encoding::Digest;
use cairn_core::ledger::ChainHead;
use cairn_core::merkle::{self, ConsistencyProof, InclusionProof};

impl Registry {
    /// The chain head: next sequence number, hash and time of the newest entry.
    pub fn head(&self) -> StoreResult<ChainHead> {
        self.read(|rtx| read_head(&rtx.open_table(ENTRIES)?))
    }

    /// The Merkle root at `size` (any size up to the current one), from O(log n) reads.
    pub fn root(&self, size: u64) -> StoreResult<Digest> {
        self.read(|rtx| {
            let n = tree_size(&rtx.open_table(ENTRIES)?)?;
            root_at(&rtx.open_table(TREE)?, n, size)
        })
    }

    /// Inclusion proof of entry `seq` in the tree of `size` entries (O(log n) reads).
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> StoreResult<InclusionProof> {
        self.read(|rtx| {
            let n = tree_size(&rtx.open_table(ENTRIES)?)?;
            let tree = rtx.open_table(TREE)?;
            let path = TreeView::new(&tree, n).run(|v| merkle::prove_inclusion(v, seq, size))?;
            Ok(InclusionProof {
                leaf_index: seq,
                tree_size: size,
                hashes: path,
            })
        })
    }

    /// Consistency proof from the tree of `old_size` entries to the tree of `new_size`
    /// (O(log n) reads).
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> StoreResult<ConsistencyProof> {
        self.read(|rtx| {
            let n = tree_size(&rtx.open_table(ENTRIES)?)?;
            let tree = rtx.open_table(TREE)?;
            let path = TreeView::new(&tree, n)
                .run(|v| merkle::prove_consistency(v, old_size, new_size))?;
            Ok(ConsistencyProof {
                old_size,
                new_size,
                hashes: path,
            })
        })
    }
}
