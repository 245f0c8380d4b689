//! Verified reads, the kernel's half: ledger entries proven included under a verified signed
//! head in O(log n) reads. The objects layer compares each
//! record it returns with the entries that created or last changed it (`objects::verified`),
//! so a flipped bit in a stored record is caught by the read that returns it.

use redb::{ReadTransaction, ReadableTable};

use crate::error::{StoreError, StoreResult};
use crate::kernel::db::Registry;
#[cfg(test)]
use crate::kernel::entries::decode_entry;
use crate::kernel::entries::{decode_envelope, decode_proven, tree_size, SignedEntry};
use crate::kernel::head::VerifiedHead;
use crate::kernel::known;
use crate::kernel::schema::{self, ENTRIES, META, TREE};
use crate::kernel::tree::TreeView;
use cairn_core::encoding::Digest;
use cairn_core::merkle::{self, InclusionProof, TreeHashes};
use cairn_core::ErrorCode;

impl Registry {
    /// The signed head of `rtx`'s snapshot, verified: the same stored bytes as the head this
    /// process last verified or wrote cost one comparison; another head is verified —
    /// signature by the log key, root against the stored tree — and, in a registry opened
    /// read-only, remembered when it is newer (a head this registry did not write).
    pub(crate) fn head_in(&self, rtx: &ReadTransaction) -> StoreResult<VerifiedHead> {
        let meta = rtx.open_table(META)?;
        let stored = meta
            .get(schema::META_HEAD)?
            .ok_or_else(|| StoreError::corrupt("the signed head record is missing"))?;
        {
            let cached = self.head.lock().unwrap_or_else(|p| p.into_inner());
            if cached.1 == stored.value() {
                return Ok(cached.0);
            }
        }
        let raw = stored.value().to_vec();
        drop(stored);
        let n = tree_size(&rtx.open_table(ENTRIES)?)?;
        let log_key = self.snapshot_log_key(&schema::read_log_key_id(&meta)?, n)?;
        let tree = rtx.open_table(TREE)?;
        let head = crate::kernel::head::verify_head(rtx, &tree, n, self.origin(), &log_key)?;
        // Opened for writing, this process is the file's only writer (redb locks it), so any
        // head a snapshot holds is one of this process's own commits: an older one (a reader
        // that began before the last commit), which the cached head extends, or a newer one
        // whose commit has not yet recorded it (a reader that began between the commit and
        // `set_head`), which extends the cached head. The proven hashes hold for both and the
        // writer records its own head: keep everything, or readers racing the writer would
        // throw the hashes away at every commit.
        if !self.is_read_only() {
            return Ok(head);
        }
        // Read-only: a head this registry did not write. Hashes proven under the old one
        // vouch for nothing here (kernel::known).
        self.known_subtrees().clear();
        self.set_head(head, raw);
        Ok(head)
    }

    /// The key a snapshot's signed head, over `size` entries, is verified with: the log key
    /// the snapshot names (`named`), which must be one this process holds or held for such a
    /// head ([`crate::kernel::db::LogKeys`]). A registry opened read-only holds the key it
    /// opened with: no other process writes the file while it is open (redb's lock).
    fn snapshot_log_key(
        &self,
        named: &cairn_core::crypto::KeyId,
        size: u64,
    ) -> StoreResult<cairn_core::crypto::PublicKey> {
        let keys = self.log_keys();
        keys.named(named, size).cloned().ok_or_else(|| {
            StoreError::corrupt(format!(
                "the signed head of {size} entries names the log key {named}, which this registry has not held for such a head since it was opened (its log key is {})",
                keys.current_id()
            ))
        })
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

    /// The signed head of the snapshot whose entries table is `entries`. Opened for writing,
    /// this process is the file's only writer (redb locks it), and a head's size and root are
    /// fixed by the entries it covers: a snapshot holding as many entries as the head this
    /// process last wrote or verified is under that head, known without reading the head
    /// record. Any other snapshot, and every snapshot of a registry opened read-only (which
    /// wrote no head it could take on trust), goes through [`Registry::head_in`].
    pub(crate) fn head_of(
        &self,
        rtx: &ReadTransaction,
        entries: &impl ReadableTable<u64, &'static [u8]>,
    ) -> StoreResult<VerifiedHead> {
        if !self.is_read_only() {
            let newest = self.head.lock().unwrap_or_else(|p| p.into_inner()).0;
            // The table's length is kept in its header (O(1)); keys are 0..n, and a gap left
            // by damage fails the proof of the missing entry, under this authentic head.
            if entries.len()? == newest.size {
                return Ok(newest);
            }
        }
        self.head_in(rtx)
    }

    /// Entry `seq` of `rtx`'s snapshot (whose entries table is `entries`), proven included in
    /// `head` (O(log n) reads). An entry that is missing, does not decode, or is not the leaf
    /// the signed head commits to is `corrupt` / `proof_invalid`, against its sequence
    /// number. Its payload is proven before it is decoded, and then decoded as proven bytes
    /// ([`decode_proven`]).
    pub(crate) fn proven_entry(
        &self,
        rtx: &ReadTransaction,
        entries: &impl ReadableTable<u64, &'static [u8]>,
        head: &VerifiedHead,
        seq: u64,
    ) -> StoreResult<SignedEntry> {
        let bytes = entries.get(seq)?.ok_or_else(|| {
            // Below the signed head the entry must be there: its absence is damage, not a
            // question about an entry that does not exist.
            if seq < head.size {
                StoreError::corrupt(format!(
                    "ledger entry {seq} is missing, under a signed head of {} entries",
                    head.size
                ))
                .at_seq(seq)
            } else {
                StoreError::not_found(format!("no ledger entry {seq}")).at_seq(seq)
            }
        })?;
        if seq >= head.size {
            return Err(StoreError::corrupt(format!(
                "entry {seq} lies beyond the signed head ({} entries)",
                head.size
            ))
            .at_seq(seq));
        }
        let envelope = decode_envelope(seq, bytes.value())?;
        let leaf = merkle::leaf_hash(&envelope.payload);
        // A record read again: its leaf hash was proven under this head or one it extends.
        if self.known_subtrees_read().get(0, seq) != Some(leaf) {
            let tree = rtx.open_table(TREE)?;
            // The head was verified against this snapshot's tree, which holds at least its
            // size.
            self.prove_leaf(&TreeView::new(&tree, head.size), head, seq, leaf)
                .map_err(|e| e.at_seq(seq))?;
        }
        decode_proven(seq, envelope)
    }

    /// Proves that `leaf` is leaf `seq` of the tree `head` signs. Climbs from the leaf through
    /// the complete subtrees that contain it, reading each sibling; a subtree whose hash was
    /// proven before (kernel::known) ends the climb, equal or not. Otherwise the full RFC 6962
    /// proof is checked against the head's root, and the subtree hashes met on the way become
    /// known. At 10^6 entries a read of a new record climbs about six levels instead of twenty;
    /// a record read again stops at its own leaf.
    fn prove_leaf<T: ReadableTable<(u8, u64), [u8; 32]>>(
        &self,
        view: &TreeView<'_, T>,
        head: &VerifiedHead,
        seq: u64,
        leaf: Digest,
    ) -> StoreResult<()> {
        let mismatch = || {
            StoreError::core(
                ErrorCode::ProofInvalid,
                "the stored entry is not the one the signed head commits to",
            )
        };
        let lowest = known::lowest_cached_level(head.size);
        // The leaf itself: a record read again is proven by its own proven leaf hash.
        let mut met = vec![((0, seq), leaf)];
        let (mut level, mut index, mut hash) = (0u8, seq, leaf);
        loop {
            if level >= lowest || level == 0 {
                let proven = self.known_subtrees_read().get(level, index);
                match proven {
                    Some(h) if h == hash => {
                        // Everything recomputed on the way is now proven too.
                        if level > 0 {
                            self.known_subtrees().insert_proven(&met);
                        }
                        return Ok(());
                    }
                    Some(_) => return Err(mismatch()),
                    None => {}
                }
            }
            // Climb only while the parent is a complete subtree of the signed tree.
            let parent = index >> 1;
            if ((parent as u128 + 1) << (level + 1)) > head.size as u128 {
                break;
            }
            let sibling = view.run(|v| v.subtree_hash(level, index ^ 1))?;
            hash = if index & 1 == 0 {
                merkle::node_hash(&hash, &sibling)
            } else {
                merkle::node_hash(&sibling, &hash)
            };
            if level >= lowest {
                met.push(((level, index ^ 1), sibling));
            }
            level += 1;
            index = parent;
            if level >= lowest {
                met.push(((level, index), hash));
            }
        }
        let hashes = view.run(|v| merkle::prove_inclusion(v, seq, head.size))?;
        let proof = InclusionProof {
            leaf_index: seq,
            tree_size: head.size,
            hashes,
        };
        proof.verify(&leaf, &head.root).map_err(|_| mismatch())?;
        self.known_subtrees().insert_proven(&met);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, NodeSpec, Protection};

    fn spec(i: u64) -> NodeSpec {
        NodeSpec::from_json(&format!(
            r#"{{"id":"n{i}","name":"N","version":"1","provenance":{{"source":"s"}}}}"#
        ))
        .unwrap()
    }

    /// Proves `leaf` as entry `seq` under the current signed head.
    fn prove(reg: &Registry, seq: u64, leaf: Digest) -> StoreResult<()> {
        reg.read(|rtx| {
            let head = reg.head_in(&rtx)?;
            let tree = rtx.open_table(TREE)?;
            let n = tree_size(&rtx.open_table(ENTRIES)?)?;
            reg.prove_leaf(&TreeView::new(&tree, n), &head, seq, leaf)
        })
    }

    fn leaf_of(reg: &Registry, seq: u64) -> Digest {
        reg.read(|rtx| {
            let entries = rtx.open_table(ENTRIES)?;
            let bytes = entries.get(seq)?.unwrap();
            Ok(decode_entry(seq, bytes.value())?.leaf_hash())
        })
        .unwrap()
    }

    // The early stop must never accept what the full proof refuses: with the proven hashes
    // warm, every entry still proves only as itself, and a hash proven under one head is not
    // trusted after the registry adopts a head it did not write.
    #[test]
    fn known_subtrees_never_vouch_for_another_leaf() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::create(
            dir.path().join("r.redb"),
            CreateOptions::new("example.test/log", Protection::Insecure),
        )
        .unwrap();
        reg.write(|t| (0..700).try_for_each(|i| t.register_node(&spec(i)).map(|_| ())))
            .unwrap();
        let n = reg.tree_size().unwrap();
        let leaves: Vec<Digest> = (0..n).map(|s| leaf_of(&reg, s)).collect();
        for round in ["cold", "warm"] {
            for seq in (0..n).step_by(7) {
                prove(&reg, seq, leaves[seq as usize]).unwrap();
                for other in [seq ^ 1, (seq + 2) % n, (seq + 300) % n] {
                    if other != seq && other < n {
                        let e = prove(&reg, seq, leaves[other as usize]).unwrap_err();
                        assert_eq!(
                            e.code().core(),
                            Some(ErrorCode::ProofInvalid),
                            "{round} {seq}"
                        );
                    }
                }
                let mut flipped = leaves[seq as usize];
                flipped[0] ^= 1;
                assert!(prove(&reg, seq, flipped).is_err(), "{round} {seq}");
            }
            assert!(
                reg.known_subtrees_read().len() > 0,
                "{round}: proofs leave known hashes"
            );
        }
        // A later commit by this process extends the tree: the hashes stay valid.
        reg.register_node(&spec(1000)).unwrap();
        assert!(reg.known_subtrees_read().len() > 0);
        prove(&reg, 3, leaves[3]).unwrap();
        // A reader whose snapshot began before the last commit gets its own (older) head,
        // verified, and leaves the newer cached head and the proven hashes alone.
        let older = reg.read_tx().unwrap();
        reg.register_node(&spec(1001)).unwrap();
        let newest = reg.head.lock().unwrap().0;
        let known = reg.known_subtrees_read().len();
        let old_head = reg.head_in(&older).unwrap();
        assert_eq!(old_head.size + 1, newest.size);
        assert_eq!(reg.head.lock().unwrap().0, newest);
        assert_eq!(reg.known_subtrees_read().len(), known);
        let entries = older.open_table(ENTRIES).unwrap();
        let bytes = entries.get(5).unwrap().unwrap();
        let leaf5 = decode_entry(5, bytes.value()).unwrap().leaf_hash();
        let tree = older.open_table(TREE).unwrap();
        reg.prove_leaf(&TreeView::new(&tree, old_head.size), &old_head, 5, leaf5)
            .unwrap();
        drop((entries, tree, older));
        // A reader that began between a commit and the writer recording its head gets that
        // newer head, verified, and leaves the cached head and the proven hashes alone (the
        // writer records its own head).
        let before = reg.head.lock().unwrap().clone();
        reg.register_node(&spec(1002)).unwrap();
        let after = reg.head.lock().unwrap().0;
        *reg.head.lock().unwrap() = before.clone();
        let known = reg.known_subtrees_read().len();
        let seen = reg.read(|rtx| reg.head_in(&rtx)).unwrap();
        assert_eq!(seen, after);
        assert_eq!(*reg.head.lock().unwrap(), before);
        assert_eq!(reg.known_subtrees_read().len(), known);
        drop(reg);

        // Read-only, a newer head is one it did not write: adopting it empties the set.
        let ro = Registry::open_read_only(dir.path().join("r.redb")).unwrap();
        prove(&ro, 3, leaves[3]).unwrap();
        assert!(ro.known_subtrees_read().len() > 0);
        *ro.head.lock().unwrap() = (
            VerifiedHead {
                size: 0,
                root: merkle::EMPTY_ROOT,
            },
            Vec::new(),
        );
        let adopted = ro.read(|rtx| ro.head_in(&rtx)).unwrap();
        assert_eq!(adopted, after);
        assert_eq!(ro.head.lock().unwrap().0, after);
        assert_eq!(
            ro.known_subtrees_read().len(),
            0,
            "emptied by a head it did not write"
        );
        prove(&ro, 3, leaves[3]).unwrap();
        assert!(
            ro.known_subtrees_read().len() > 0,
            "refilled by the next proof"
        );
    }

    /// Heads signed across a rotation of the log key verify with the key that signed them:
    /// a snapshot taken before the rotation and read after it, and one taken after the
    /// rotation's commit while the registry still names the old key current (a reader between
    /// the commit and the key's replacement). A key this process never held is `corrupt`.
    #[test]
    fn heads_across_a_log_key_rotation_verify_with_their_own_key() {
        use crate::kernel::db::LogKeys;
        use crate::WeakerAlgorithm;
        use cairn_core::crypto::{Algorithm, SigningKey};
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::create(
            dir.path().join("r.redb"),
            CreateOptions::new("example.test/log", Protection::Insecure),
        )
        .unwrap();
        reg.register_node(&spec(1)).unwrap();
        let old_id = reg.log_key_id().unwrap();
        let old_public = reg.log_keys().named(&old_id, 0).unwrap().clone();
        let before = reg.read_tx().unwrap();
        let algorithm = old_public.algorithm();
        reg.rotate_key(
            &old_id,
            None,
            algorithm,
            WeakerAlgorithm::Refuse,
            &Protection::Insecure,
        )
        .unwrap();
        let new_id = reg.log_key_id().unwrap();
        assert_ne!(new_id, old_id);
        let new_public = reg.log_keys().named(&new_id, u64::MAX).unwrap().clone();

        // Taken before the rotation, read after it.
        let old_head = reg.head_in(&before).unwrap();
        let after = reg.read_tx().unwrap();
        let new_head = reg.head_in(&after).unwrap();
        assert!(new_head.size > old_head.size);
        // The old key vouches for heads of smaller trees than its successor's first head only.
        {
            let keys = reg.log_keys();
            assert!(keys.named(&old_id, new_head.size - 1).is_some());
            assert!(keys.named(&old_id, new_head.size).is_none());
            assert!(keys.named(&new_id, new_head.size).is_some());
        }

        // Taken after the commit, while the old key is still current.
        let mut racing = LogKeys::new(old_public.clone());
        racing.rotating_to(new_public.clone());
        *reg.log_keys() = racing;
        reg.head.lock().unwrap().1.clear(); // no cached bytes to match: verify
        assert_eq!(reg.head_in(&after).unwrap().root, new_head.root);

        // A key this process never held, though the file names it and holds its record.
        let stranger = SigningKey::generate(Algorithm::Ed25519);
        *reg.log_keys() = LogKeys::new(stranger.public_key().clone());
        let e = reg.head_in(&after).unwrap_err();
        assert_eq!(e.code(), crate::StoreCode::Corrupt, "{e}");
        assert!(e.to_string().contains(&new_id.to_string()), "{e}");
    }
}
