//! The stored Merkle tree: the `tree` table seen through the merkle module's [`TreeHashes`].
//!
//! Roots and proofs for any size are assembled by the merkle module from O(log n) reads of
//! this view; appends write what [`cairn_core::merkle::hashes_to_store`] returns. A database error
//! met while the merkle code reads is kept aside and reported as itself (not as a proof
//! error); a subtree that should exist and does not is `corrupt`.

use std::cell::RefCell;

use redb::ReadableTable;

use crate::error::{StoreError, StoreResult};
use cairn_core::encoding::Digest;
use cairn_core::error::{Error, ErrorCode};
use cairn_core::merkle::TreeHashes;

/// A read view of the `tree` table at a given size.
pub(crate) struct TreeView<'t, T> {
    table: &'t T,
    size: u64,
    failure: RefCell<Option<StoreError>>,
}

impl<'t, T: ReadableTable<(u8, u64), [u8; 32]>> TreeView<'t, T> {
    /// A view of `table` holding a tree of `size` leaves.
    pub(crate) fn new(table: &'t T, size: u64) -> Self {
        TreeView {
            table,
            size,
            failure: RefCell::new(None),
        }
    }

    /// Runs a merkle computation over the view, turning a stored failure back into itself.
    pub(crate) fn run<R>(&self, f: impl FnOnce(&Self) -> cairn_core::Result<R>) -> StoreResult<R> {
        let out = f(self);
        if let Some(e) = self.failure.borrow_mut().take() {
            return Err(e);
        }
        out.map_err(StoreError::from)
    }
}

impl<T: ReadableTable<(u8, u64), [u8; 32]>> TreeHashes for TreeView<'_, T> {
    fn tree_size(&self) -> u64 {
        self.size
    }

    fn subtree_hash(&self, level: u8, index: u64) -> cairn_core::Result<Digest> {
        match self.table.get((level, index)) {
            Ok(Some(h)) => Ok(h.value()),
            Ok(None) => {
                let e = StoreError::corrupt(format!(
                    "the stored Merkle tree lacks the subtree at level {level}, index {index}"
                ));
                *self.failure.borrow_mut() = Some(e);
                Err(Error::new(ErrorCode::ProofInvalid, "missing subtree"))
            }
            Err(e) => {
                *self.failure.borrow_mut() = Some(e.into());
                Err(Error::new(ErrorCode::ProofInvalid, "database error"))
            }
        }
    }
}
