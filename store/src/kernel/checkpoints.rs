//! Checkpoints: signed statements of the log's size and root, kept as history keyed by size.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::kernel::db::{Registry, Txn};
use crate::kernel::entries::root_at;
pub(crate) use crate::kernel::head::open_note;
use crate::kernel::schema::{self, ReadTables, CHECKPOINTS, TREE};
use cairn_core::checkpoint::{Checkpoint as CheckpointBody, TrustRootRef};
use cairn_core::crypto::KeyId;
use cairn_core::encoding::Digest;
use cairn_core::merkle::ConsistencyProof;
use cairn_core::UnixTime;

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size it commits to.
    pub size: u64,
    /// Merkle root at that size.
    pub root: Digest,
    /// The signed note, as handed to verifiers.
    pub note: String,
    /// The log key that signed it.
    pub key_id: KeyId,
    /// When it was made, by the registry's clock: the registry's own note, which no signature
    /// or proof covers (a C2SP checkpoint carries no time), so reads cannot vouch for it as
    /// they do for the rest. A checkpoint's time that verifiers can check is its newest
    /// entry's (docs/FORMATS.md, bundles of version 2).
    pub created_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CheckpointRecord {
    pub note: String,
    pub key_id: KeyId,
    pub created_at: UnixTime,
}

/// A stored checkpoint as listed: size and root as its note states them.
fn to_checkpoint(size: u64, rec: CheckpointRecord) -> StoreResult<StoredCheckpoint> {
    let note = cairn_core::note::Note::parse(rec.note.as_bytes())
        .and_then(|n| CheckpointBody::parse_text(n.text()))
        .map_err(|e| {
            StoreError::corrupt(format!("stored checkpoint at size {size}: {}", e.detail()))
        })?;
    Ok(StoredCheckpoint {
        size,
        root: note.root,
        note: rec.note,
        key_id: rec.key_id,
        created_at: rec.created_at,
    })
}

impl Txn<'_> {
    /// Signs a checkpoint of the tree as it stands in this transaction, with the log key,
    /// and stores it. At a size that already has a checkpoint, returns that one.
    pub fn create_checkpoint(&mut self) -> StoreResult<StoredCheckpoint> {
        let size = self.head.next_seq;
        if let Some(rec) =
            self.tx
                .get_record::<u64, CheckpointRecord>(CHECKPOINTS, size, "checkpoint")?
        {
            return to_checkpoint(size, rec);
        }
        let root = root_at(&self.tx.open_table(TREE)?, size, size)?;
        // The checkpoint names the current trust root, so that a verifier refuses a bundle
        // whose trust chain stops short of it (docs/FORMATS.md, the trust-root extension).
        let mut body = CheckpointBody::new(self.reg.origin(), size, root);
        if let Some(current) = self.current_root()? {
            body = body.with_trust_root(TrustRootRef {
                version: current.root.root_version,
                id: current.root.id(),
            });
        }
        // And the revocation map as of this size (docs/FORMATS.md, the revocations line).
        let body = body.with_revocations(crate::kernel::revmap::current_ref(&self.tx, size)?);
        let note = self.sign_head_body(&body)?;
        let rec = CheckpointRecord {
            note,
            key_id: self.log_key_id(),
            created_at: self.now(),
        };
        self.tx
            .open_table(CHECKPOINTS)?
            .insert(size, schema::encode(&rec).as_slice())?;
        to_checkpoint(size, rec)
    }
}

impl Registry {
    /// Signs and stores a checkpoint of the current tree (one transaction).
    pub fn create_checkpoint(&self) -> StoreResult<StoredCheckpoint> {
        self.write(|tx| tx.create_checkpoint())
    }

    /// The newest stored checkpoint, as stored (public reads verify it: `objects::verified`).
    pub(crate) fn latest_checkpoint_in(
        &self,
        rtx: &redb::ReadTransaction,
    ) -> StoreResult<StoredCheckpoint> {
        let t = rtx.open_table(CHECKPOINTS)?;
        let (k, v) = t
            .last()?
            .ok_or_else(|| StoreError::corrupt("the registry has no checkpoint"))?;
        to_checkpoint(k.value(), schema::decode(v.value(), "checkpoint")?)
    }

    /// The tree sizes of the stored checkpoints in `sizes`, smallest first: the sizes a log
    /// that publishes tiles must serve partial tiles for (C2SP tlog-tiles). Read from the
    /// table's keys alone: nothing of a checkpoint is vouched for, only where one was made.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let made = reg.create_checkpoint()?.size;
    /// assert_eq!(reg.checkpoint_sizes(made..=made)?, [made]);
    /// assert!(reg.checkpoint_sizes(made + 1..)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint_sizes(
        &self,
        sizes: impl std::ops::RangeBounds<u64>,
    ) -> StoreResult<Vec<u64>> {
        self.read(|rtx| {
            let t = rtx.open_table(CHECKPOINTS)?;
            let mut out = Vec::new();
            for row in t.range(sizes)? {
                out.push(row?.0.value());
            }
            Ok(out)
        })
    }

    /// Every stored checkpoint, oldest first, as stored.
    pub(crate) fn checkpoints_in(
        &self,
        rtx: &redb::ReadTransaction,
    ) -> StoreResult<Vec<StoredCheckpoint>> {
        let t = rtx.open_table(CHECKPOINTS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push(to_checkpoint(
                k.value(),
                schema::decode(v.value(), "checkpoint")?,
            )?);
        }
        Ok(out)
    }

    /// The consistency proof between the checkpoints at `old_size` and `new_size`.
    pub fn checkpoint_consistency(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> StoreResult<ConsistencyProof> {
        self.consistency_proof(old_size, new_size)
    }
}
