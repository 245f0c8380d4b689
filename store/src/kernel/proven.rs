//! Verified reads, the kernel's half: ledger entries proven included under a verified signed
//! head in O(log n) reads. The objects layer compares each
//! record it returns with the entries that created or last changed it (`objects::verified`),
//! so a flipped bit in a stored record is caught by the read that returns it.

use redb::ReadTransaction;

use crate::error::{StoreError, StoreResult};
use crate::kernel::db::Registry;
use crate::kernel::entries::{decode_entry, tree_size, SignedEntry};
use crate::kernel::head::VerifiedHead;
use crate::kernel::schema::{self, ENTRIES, META, TREE};
use crate::kernel::tree::TreeView;
use cairn_core::merkle::{self, InclusionProof};
use cairn_core::ErrorCode;

impl Registry {
    /// The signed head of `rtx`'s snapshot, verified: the same stored bytes as the head this
    /// process last verified or wrote cost one comparison; a newer head (another process
    /// wrote since) is verified — signature by the log key, root against the stored tree —
    /// and remembered.
    pub(crate) fn head_in(&self, rtx: &ReadTransaction) -> StoreResult<VerifiedHead> {
        let raw = rtx
            .open_table(META)?
            .get(schema::META_HEAD)?
            .map(|v| v.value().to_vec())
            .ok_or_else(|| StoreError::corrupt("the signed head record is missing"))?;
        {
            let cached = self.head.lock().unwrap_or_else(|p| p.into_inner());
            if cached.1 == raw {
                return Ok(cached.0);
            }
        }
        let log_key = self.log_public_key();
        let tree = rtx.open_table(TREE)?;
        let n = tree_size(&rtx.open_table(ENTRIES)?)?;
        let head = crate::kernel::head::verify_head(rtx, &tree, n, self.origin(), &log_key)?;
        self.set_head(head, raw);
        Ok(head)
    }

    /// The signed head as its note — a C2SP checkpoint of the whole tree, signed by the log
    /// key at the last commit — with its size and root, verified.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let (head, note) = reg.signed_head_note()?;
    /// assert_eq!(head.size, reg.tree_size()?);
    /// assert!(note.starts_with("example.test/log\n1\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signed_head_note(&self) -> StoreResult<(VerifiedHead, String)> {
        self.read(|rtx| {
            let head = self.head_in(&rtx)?;
            let rec = schema::read_head_record(&rtx.open_table(META)?)?;
            Ok((head, rec.note))
        })
    }

    /// Entry `seq` of `rtx`'s snapshot, proven included in `head` (O(log n) reads). An entry
    /// that is missing, does not decode, or is not the leaf the signed head commits to is
    /// `corrupt` / `proof_invalid`, against its sequence number.
    pub(crate) fn proven_entry(
        &self,
        rtx: &ReadTransaction,
        head: &VerifiedHead,
        seq: u64,
    ) -> StoreResult<SignedEntry> {
        let entries = rtx.open_table(ENTRIES)?;
        let bytes = entries
            .get(seq)?
            .ok_or_else(|| StoreError::not_found(format!("no ledger entry {seq}")).at_seq(seq))?;
        if seq >= head.size {
            return Err(StoreError::corrupt(format!(
                "entry {seq} lies beyond the signed head ({} entries)",
                head.size
            ))
            .at_seq(seq));
        }
        let stored = decode_entry(seq, bytes.value())?;
        let tree = rtx.open_table(TREE)?;
        let n = tree_size(&entries)?;
        let hashes = TreeView::new(&tree, n).run(|v| merkle::prove_inclusion(v, seq, head.size))?;
        let proof = InclusionProof {
            leaf_index: seq,
            tree_size: head.size,
            hashes,
        };
        proof.verify(&stored.leaf_hash(), &head.root).map_err(|_| {
            StoreError::core(
                ErrorCode::ProofInvalid,
                "the stored entry is not the one the signed head commits to",
            )
            .at_seq(seq)
        })?;
        Ok(stored)
    }
}
