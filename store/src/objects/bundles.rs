//! Bundles for a token or a manifest (the bundle module's format): the object, its ledger
//! entry with an inclusion proof under a signed checkpoint, and the trust-root chain.

use redb::ReadableTable;

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::Registry;
use crate::kernel::revmap;
use crate::kernel::schema::{self, CHECKPOINTS, ENTRIES, TREE, TRUST_ROOTS};
use crate::kernel::tree::TreeView;
use crate::objects::manifests::load_manifest;
use crate::objects::tokens::load_token;
use crate::objects::trustroots::all_roots;
use cairn_core::bundle::{
    revocation_objects, Bundle, ObjectProof, RefreshPieces, RevocationSection, BUNDLE_VERSION,
    BUNDLE_VERSION_2, REFRESH_VERSION,
};
use cairn_core::checkpoint::Checkpoint as CheckpointBody;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{hex_encode, Digest};
use cairn_core::manifest::MANIFEST_PAYLOAD_TYPE;
use cairn_core::merkle::{self, InclusionProof};
use cairn_core::peer::KEY_RESPONSE_TYPE;
use cairn_core::revocation::map_key;
use cairn_core::token::TOKEN_PAYLOAD_TYPE;

impl Registry {
    /// The bundle proving a token: the token, its stored parents, its `token_issued` entry
    /// and everything [`cairn_core::bundle::verify_bundle`] needs besides a pinned trust root.
    /// Writes a checkpoint first if none covers the entry yet.
    pub fn token_bundle(&self, id: &Digest) -> StoreResult<Bundle> {
        let (seq, subject) = self.read(|rtx| {
            let rec = load_token(&rtx, id)?
                .ok_or_else(|| StoreError::not_found(format!("no token {}", hex_encode(id))))?;
            Ok((rec.seq, rec.info()?.envelope))
        })?;
        let parents = self.token_parents(id)?;
        self.bundle(seq, subject, parents)
    }

    /// The bundle proving a manifest with every signature it has, anchored at its newest
    /// `manifest_signed` / `manifest_cosigned` entry.
    pub fn manifest_bundle(&self, digest: &Digest) -> StoreResult<Bundle> {
        self.read(|rtx| {
            let rec = load_manifest(&rtx, digest)?.ok_or_else(|| {
                StoreError::not_found(format!("no manifest {}", hex_encode(digest)))
            })?;
            let subject = rec.info()?.envelope;
            drop(rtx);
            self.bundle(rec.last_seq, subject, Vec::new())
        })
    }

    /// Whether exporting the token or manifest bundle of entry `seq` signs a checkpoint first
    /// (a write, with the log key): when no checkpoint covers the entry, or when the newest
    /// one does not commit to the revocation map as it stands (revocations were logged after
    /// it, or it predates the map).
    pub fn bundle_needs_checkpoint(&self, seq: u64) -> StoreResult<bool> {
        self.read(|rtx| {
            let newest = rtx.open_table(CHECKPOINTS)?.last()?.map(|(k, _)| k.value());
            Ok(newest.is_none_or(|size| size <= seq) || !newest_has_current_map(&rtx)?)
        })
    }

    /// The pieces that move `old` — a bundle of this registry's, of any age — to the newest
    /// checkpoint ([`cairn_core::bundle::refresh_bundle`] applies them): see
    /// [`Registry::refresh_pieces_at`].
    ///
    /// Errors: `not_found` when the bundle's entry is not this registry's entry at its index,
    /// and those of [`Registry::refresh_pieces_at`].
    pub fn refresh_pieces(&self, old: &Bundle) -> StoreResult<RefreshPieces> {
        let seq = old.inclusion.leaf_index;
        let note = cairn_core::note::Note::parse(old.checkpoint.as_bytes())?;
        let old_size = CheckpointBody::parse_text(note.text())?.size;
        let stored = self.read(|rtx| {
            rtx.open_table(ENTRIES)?
                .get(seq)?
                .map(|v| crate::kernel::entries::decode_entry(seq, v.value()))
                .transpose()
        })?;
        if stored.is_none_or(|e| e.envelope.payload != old.entry) {
            return Err(StoreError::not_found(format!(
                "this registry's ledger has no entry {seq} equal to the bundle's: a bundle of another registry?"
            )));
        }
        self.refresh_pieces_at(seq, old_size, old.subject.clone(), old.parents.clone())
    }

    /// The refresh pieces for a bundle of `subject` (with its delegation `parents`) whose
    /// entry is `seq` and whose checkpoint is of `old_size` entries: the newest checkpoint
    /// with its cosignatures, the consistency proof from `old_size`, the entry's inclusion
    /// under it, the trust chain, and non-membership proofs against its revocation map. Signs
    /// a checkpoint of the whole log first when the newest one is older (a read-only registry
    /// hands out its newest checkpoint).
    ///
    /// Errors: `malformed` when `old_size` is past the log; `invalid_state` when the registry
    /// is read-only and its newest checkpoint predates the map; cairn-core's codes when
    /// `old_size` is past the newest checkpoint or `seq` is not below `old_size`.
    pub fn refresh_pieces_at(
        &self,
        seq: u64,
        old_size: u64,
        subject: Envelope,
        parents: Vec<Envelope>,
    ) -> StoreResult<RefreshPieces> {
        if seq >= old_size {
            return Err(cairn_core::Error::new(
                cairn_core::ErrorCode::ProofInvalid,
                format!("entry {seq} is not in a tree of {old_size} entries"),
            )
            .into());
        }
        // Refused before anything is read or signed: an entry past the log would otherwise
        // have the bundle sign a checkpoint, then find no entry to prove.
        let size = self.tree_size()?;
        if old_size > size {
            return Err(cairn_core::Error::malformed(format!(
                "a tree of {old_size} entries is past the log ({size} entries)"
            ))
            .into());
        }
        // The newest state: a checkpoint of the whole log (when the registry may sign one).
        let newest =
            self.read(|rtx| Ok(rtx.open_table(CHECKPOINTS)?.last()?.map(|(k, _)| k.value())))?;
        if self.is_writable() && newest.is_none_or(|n| n < size) {
            self.create_checkpoint()?;
        }
        let fresh = self.bundle(seq, subject, parents)?;
        let revocation = fresh.revocation.ok_or_else(|| {
            StoreError::new(
                StoreCode::InvalidState,
                "the newest checkpoint does not commit to the revocation map as it stands, and the registry is read-only: open it for writing to sign one",
            )
        })?;
        let consistency = self.consistency_proof(old_size, fresh.inclusion.tree_size)?;
        Ok(RefreshPieces {
            version: REFRESH_VERSION,
            checkpoint: fresh.checkpoint,
            consistency,
            inclusion: fresh.inclusion,
            trust_chain: fresh.trust_chain,
            root_id: fresh.root_id,
            revocation,
        })
    }

    pub(crate) fn bundle(
        &self,
        seq: u64,
        subject: Envelope,
        parents: Vec<Envelope>,
    ) -> StoreResult<Bundle> {
        let covered = |reg: &Registry| -> StoreResult<bool> {
            reg.read(|rtx| {
                let t = rtx.open_table(CHECKPOINTS)?;
                let newest = t.last()?.map(|(k, _)| k.value());
                Ok(newest.is_some_and(|size| size > seq))
            })
        };
        if !covered(self)? {
            self.create_checkpoint()?;
        }
        // A version 2 bundle needs a checkpoint that commits to the map as it stands: sign
        // one if revocations were logged after the newest checkpoint (or it predates the map).
        // (A peer's key response proves its signing key not revoked, as a token its issuer.)
        let proves_revocation = matches!(
            subject.payload_type.as_str(),
            TOKEN_PAYLOAD_TYPE | MANIFEST_PAYLOAD_TYPE | KEY_RESPONSE_TYPE
        );
        if proves_revocation
            && self.is_writable()
            && !self.read(|rtx| newest_has_current_map(&rtx))?
        {
            self.create_checkpoint()?;
        }
        // One snapshot for everything the bundle carries, so its parts agree.
        let mut bundle = self.read(|rtx| {
            let roots = all_roots(&rtx.open_table(TRUST_ROOTS)?)?;
            let newest = roots.last().ok_or_else(|| {
                StoreError::new(
                    StoreCode::InvalidState,
                    "bundles need a trust root: create one first",
                )
            })?;
            let root_id = newest.root.id();
            let cps = rtx.open_table(CHECKPOINTS)?;
            let (size, note) = {
                let (k, v) = cps
                    .last()?
                    .ok_or_else(|| StoreError::corrupt("the registry has no checkpoint"))?;
                let rec: crate::kernel::checkpoints::CheckpointRecord =
                    schema::decode(v.value(), "checkpoint")?;
                (k.value(), rec.note)
            };
            let entries = rtx.open_table(ENTRIES)?;
            let n = crate::kernel::entries::tree_size(&entries)?;
            let stored = entries.get(seq)?.ok_or_else(|| {
                StoreError::corrupt("the object's ledger entry is missing").at_seq(seq)
            })?;
            let entry = crate::kernel::entries::decode_entry(seq, stored.value())?;
            let tree = rtx.open_table(TREE)?;
            let hashes = TreeView::new(&tree, n).run(|v| merkle::prove_inclusion(v, seq, size))?;
            // Version 2 when the checkpoint's map is the stored one (same root, same set);
            // else (a file whose newest checkpoint predates the map, opened read-only or not
            // written since) version 1.
            let revocation = if proves_revocation && newest_has_current_map(&rtx)? {
                let newest = entries.get(size - 1)?.ok_or_else(|| {
                    StoreError::corrupt("the checkpoint's newest entry is missing").at_seq(size - 1)
                })?;
                let newest = crate::kernel::entries::decode_entry(size - 1, newest.value())?;
                let newest_hashes =
                    TreeView::new(&tree, n).run(|v| merkle::prove_inclusion(v, size - 1, size))?;
                let mut proofs = Vec::new();
                for (kind, id) in revocation_objects(&subject, &parents)? {
                    let proof =
                        revmap::read_proof(&rtx, &map_key(kind, &id))?.ok_or_else(|| {
                            StoreError::corrupt("the revocation map disappeared in a snapshot")
                        })?;
                    proofs.push(ObjectProof {
                        kind: kind.byte(),
                        id,
                        proof: proof.to_bytes(),
                    });
                }
                Some(RevocationSection {
                    newest_entry: newest.envelope.payload,
                    newest_inclusion: InclusionProof {
                        leaf_index: size - 1,
                        tree_size: size,
                        hashes: newest_hashes,
                    },
                    proofs,
                })
            } else {
                None
            };
            Ok(Bundle {
                version: if revocation.is_some() {
                    BUNDLE_VERSION_2
                } else {
                    BUNDLE_VERSION
                },
                subject,
                parents,
                entry: entry.envelope.payload,
                inclusion: InclusionProof {
                    leaf_index: seq,
                    tree_size: size,
                    hashes,
                },
                checkpoint: note,
                trust_chain: roots.into_iter().map(|r| r.envelope).collect(),
                root_id,
                revocation,
            })
        })?;
        // The witnesses' cosignatures of that checkpoint travel with it.
        bundle.checkpoint = self.witnessed_note(&bundle.checkpoint)?;
        Ok(bundle)
    }
}

/// Whether the newest checkpoint carries a `cairn.revocations` line equal to the stored map
/// (then proofs from the stored map are proofs against the checkpoint's root).
fn newest_has_current_map(rtx: &redb::ReadTransaction) -> StoreResult<bool> {
    let Some(current) = revmap::read_ref(rtx)? else {
        return Ok(false);
    };
    let cps = rtx.open_table(CHECKPOINTS)?;
    let Some((k, v)) = cps.last()? else {
        return Ok(false);
    };
    let rec: crate::kernel::checkpoints::CheckpointRecord =
        schema::decode(v.value(), "checkpoint")?;
    let line = cairn_core::note::Note::parse(rec.note.as_bytes())
        .and_then(|n| CheckpointBody::parse_text(n.text()))
        .and_then(|c| c.revocations())
        .map_err(|e| {
            StoreError::corrupt(format!(
                "stored checkpoint at size {}: {}",
                k.value(),
                e.detail()
            ))
        })?;
    Ok(line == Some(current))
}
