//! Bundles for a token or a manifest (the bundle module's format): the object, its ledger
//! entry with an inclusion proof under a signed checkpoint, and the trust-root chain.

use redb::ReadableTable;

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::Registry;
use crate::kernel::schema::{self, CHECKPOINTS, ENTRIES, TREE, TRUST_ROOTS};
use crate::kernel::tree::TreeView;
use crate::objects::manifests::load_manifest;
use crate::objects::tokens::load_token;
use crate::objects::trustroots::all_roots;
use cairn_core::bundle::{Bundle, BUNDLE_VERSION};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{hex_encode, Digest};
use cairn_core::merkle::{self, InclusionProof};

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
            Ok(Bundle {
                version: BUNDLE_VERSION,
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
            })
        })?;
        // The witnesses' cosignatures of that checkpoint travel with it.
        bundle.checkpoint = self.witnessed_note(&bundle.checkpoint)?;
        Ok(bundle)
    }
}
