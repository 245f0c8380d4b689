//! Reading the ledger: entries, the chain head, the tree root and proofs.

use crate::error::StoreError;
use crate::error::StoreResult;
use crate::kernel::db::Registry;
use crate::kernel::entries::{decode_entry, read_head, root_at, tree_size};
use crate::kernel::schema::{ENTRIES, TREE};
use crate::kernel::tree::TreeView;
use cairn_core::encoding::Digest;
use cairn_core::ledger::ChainHead;
use cairn_core::merkle::{self, ConsistencyProof, InclusionProof};
use cairn_core::tiles::{self, Tile, TileKind};

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

    /// The bytes of a C2SP tlog tile of the ledger's tree (`cairn_core::tiles`): a hash tile
    /// (`width` stored subtree hashes of level `8·L`) or an entry bundle (the entries' bytes,
    /// the Merkle leaves, each prefixed by its big-endian `u16` length). A tile the ledger does
    /// not hold at that width yet is `not_found`. Full tiles never change; a partial tile is
    /// the prefix of every wider one.
    ///
    /// ```
    /// use cairn_core::tiles::{Tile, TileKind};
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let t = Tile { kind: TileKind::Hashes(0), index: 0, width: 1 };
    /// assert_eq!(reg.tile(&t)?.len(), 32);
    /// let wider = Tile { width: 2, ..t };
    /// assert_eq!(reg.tile(&wider).unwrap_err().code(), cairn_store::StoreCode::NotFound);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tile(&self, tile: &Tile) -> StoreResult<Vec<u8>> {
        self.read(|rtx| {
            let entries = rtx.open_table(ENTRIES)?;
            let n = tree_size(&entries)?;
            let held = tiles::tile_at(tile.kind, tile.index, n);
            if tile.width == 0 || held.map(|t| t.width < tile.width).unwrap_or(true) {
                return Err(StoreError::not_found(format!(
                    "the ledger ({n} entries) holds no {}",
                    tile.path()
                )));
            }
            match tile.kind {
                TileKind::Hashes(_) => {
                    let tree = rtx.open_table(TREE)?;
                    TreeView::new(&tree, n).run(|v| tiles::tile_bytes(v, tile))
                }
                TileKind::Entries => {
                    let first = tile.index * u64::from(tiles::TILE_WIDTH);
                    let mut leaves = Vec::with_capacity(usize::from(tile.width));
                    for seq in first..first + u64::from(tile.width) {
                        let bytes = entries.get(seq)?.ok_or_else(|| {
                            StoreError::corrupt(format!("ledger entry {seq} is missing"))
                                .at_seq(seq)
                        })?;
                        leaves.push(decode_entry(seq, bytes.value())?.envelope.payload);
                    }
                    Ok(tiles::encode_entry_bundle(
                        leaves.iter().map(|l| l.as_slice()),
                    )?)
                }
            }
        })
    }
}
