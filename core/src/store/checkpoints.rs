//! Checkpoints: signed statements of the log's size and root, kept as history keyed by size.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::error::{StoreError, StoreResult};
use super::log::{root_at, tree_size};
use super::registry::{Registry, Txn};
use super::schema::{self, ReadTables, CHECKPOINTS, ENTRIES, TREE};
use crate::crypto::{KeyId, PublicKey, SigningKey};
use crate::encoding::Digest;
use crate::merkle::ConsistencyProof;
use crate::UnixTime;

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Tree size it commits to.
    pub size: u64,
    /// Merkle root at that size.
    pub root: Digest,
    /// The signed note, as handed to verifiers.
    pub note: String,
    /// The log key that signed it.
    pub key_id: KeyId,
    /// When it was made.
    pub created_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CheckpointRecord {
    pub note: String,
    pub key_id: KeyId,
    pub created_at: UnixTime,
}

/// Signs a checkpoint note for (origin, size, root).
pub(crate) fn sign_note(
    origin: &str,
    size: u64,
    root: &Digest,
    key: &SigningKey,
) -> StoreResult<String> {
    let body = format!("{origin}\n{size}\n{}\n", crate::encoding::b64_encode(root));
    let sig = key.sign(body.as_bytes(), b"cairn-checkpoint")?;
    Ok(format!(
        "{body}\n{}\n",
        crate::encoding::b64_encode(sig.as_bytes())
    ))
}

/// Verifies a checkpoint note signed by `key` for `origin`; returns (size, root).
pub(crate) fn open_note(note: &str, origin: &str, key: &PublicKey) -> StoreResult<(u64, Digest)> {
    let malformed = || {
        StoreError::core(
            crate::ErrorCode::Malformed,
            "checkpoint note does not parse",
        )
    };
    let (body, sig) = note.rsplit_once("\n\n").ok_or_else(malformed)?;
    let body = format!("{body}\n");
    let sig = crate::encoding::b64_decode(sig.trim_end_matches('\n'))?;
    let sig = crate::crypto::Signature::from_bytes(key.algorithm(), &sig)?;
    key.verify(body.as_bytes(), b"cairn-checkpoint", &sig)?;
    let mut lines = body.lines();
    if lines.next() != Some(origin) {
        return Err(StoreError::core(
            crate::ErrorCode::DomainMismatch,
            "checkpoint of another origin",
        ));
    }
    let size: u64 = lines
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(malformed)?;
    let root = crate::encoding::b64_decode(lines.next().ok_or_else(malformed)?)?;
    let root: Digest = root.try_into().map_err(|_| malformed())?;
    Ok((size, root))
}

fn to_checkpoint(size: u64, rec: CheckpointRecord, root: Digest) -> Checkpoint {
    Checkpoint {
        size,
        root,
        note: rec.note,
        key_id: rec.key_id,
        created_at: rec.created_at,
    }
}

impl Txn<'_> {
    /// Signs a checkpoint of the tree as it stands in this transaction, with the log key,
    /// and stores it. At a size that already has a checkpoint, returns that one.
    pub fn create_checkpoint(&mut self) -> StoreResult<Checkpoint> {
        let size = self.head.next_seq;
        if let Some(rec) =
            self.tx
                .get_record::<u64, CheckpointRecord>(CHECKPOINTS, size, "checkpoint")?
        {
            let root = root_at(&self.tx.open_table(TREE)?, size, size)?;
            return Ok(to_checkpoint(size, rec, root));
        }
        let root = root_at(&self.tx.open_table(TREE)?, size, size)?;
        let note = sign_note(&self.reg.origin().to_owned(), size, &root, &self.log_key)?;
        let rec = CheckpointRecord {
            note,
            key_id: self.log_key_id(),
            created_at: self.now(),
        };
        self.tx
            .open_table(CHECKPOINTS)?
            .insert(size, schema::encode(&rec).as_slice())?;
        Ok(to_checkpoint(size, rec, root))
    }
}

impl Registry {
    /// Signs and stores a checkpoint of the current tree (one transaction).
    pub fn create_checkpoint(&self) -> StoreResult<Checkpoint> {
        self.write(|tx| tx.create_checkpoint())
    }

    /// The newest checkpoint.
    pub fn latest_checkpoint(&self) -> StoreResult<Checkpoint> {
        let rtx = self.read_tx()?;
        let t = rtx.open_table(CHECKPOINTS)?;
        let (k, v) = t
            .last()?
            .ok_or_else(|| StoreError::corrupt("the registry has no checkpoint"))?;
        let size = k.value();
        let rec: CheckpointRecord = schema::decode(v.value(), "checkpoint")?;
        let n = tree_size(&rtx.open_table(ENTRIES)?)?;
        let root = root_at(&rtx.open_table(TREE)?, n, size)?;
        Ok(to_checkpoint(size, rec, root))
    }

    /// Every checkpoint, oldest first.
    pub fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        let rtx = self.read_tx()?;
        let n = tree_size(&rtx.open_table(ENTRIES)?)?;
        let tree = rtx.open_table(TREE)?;
        let t = rtx.open_table(CHECKPOINTS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            let rec: CheckpointRecord = schema::decode(v.value(), "checkpoint")?;
            out.push(to_checkpoint(k.value(), rec, root_at(&tree, n, k.value())?));
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
