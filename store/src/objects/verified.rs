//! Verified reads, the objects' half: every record a public read returns is compared with the
//! ledger entries that created or last changed it, each proven included in the signed head
//! (`kernel::proven`). A record that disagrees is `corrupt`, named by the entry it should
//! match. Cost: one or two entry reads and O(log n) tree reads per record (docs/PERFORMANCE.md
//! has the figures beside an unverified read).
//!
//! What this catches: a record changed by damage or by an edit that leaves it decodable. What
//! it does not: a record that vanished or was added whole, or an edit that makes a record
//! match an older entry (a status put back to active); `Registry::audit` compares every record
//! with the whole ledger and catches those.

use redb::{ReadOnlyTable, ReadTransaction};

use crate::error::{StoreError, StoreResult};
use crate::kernel::checkpoints::{open_note, StoredCheckpoint};
use crate::kernel::db::Registry;
use crate::kernel::entries::{tree_size, SignedEntry};
use crate::kernel::head::VerifiedHead;
use crate::kernel::schema::{ENTRIES, TREE};
use crate::kernel::tree::TreeView;
use crate::objects::keys::load_key;
use crate::objects::keys::{KeyRecord, KeyStatus};
use crate::objects::manifests::ManifestInfo;
use crate::objects::nodes::StoredNode;
use crate::objects::tokens::{Revocation, TokenInfo};
use crate::objects::trustroots::StoredTrustRoot;
use cairn_core::encoding::Digest;
use cairn_core::ledger::{required_consents, Event, LEDGER_ENTRY_TYPE};
use cairn_core::manifest::MANIFEST_PAYLOAD_TYPE;
use cairn_core::merkle::ConsistencyProof;

fn differs(seq: u64, what: &str) -> StoreError {
    StoreError::corrupt(format!(
        "the stored {what} differs from ledger entry {seq}, which the signed head covers: the record was damaged or edited (run `cairn ledger audit`)"
    ))
    .at_seq(seq)
}

impl Registry {
    /// The newest checkpoint, verified: its note by its key (a key of this registry, itself
    /// checked against the ledger), and consistent with the signed head.
    pub fn latest_checkpoint(&self) -> StoreResult<StoredCheckpoint> {
        self.read(|rtx| {
            let cp = self.latest_checkpoint_in(&rtx)?;
            Proof::new(self, &rtx)?.checkpoint(&cp)?;
            Ok(cp)
        })
    }

    /// Every checkpoint, oldest first, each verified as [`Registry::latest_checkpoint`] is.
    pub fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
        self.read(|rtx| {
            let proof = Proof::new(self, &rtx)?;
            let cps = self.checkpoints_in(&rtx)?;
            for cp in &cps {
                proof.checkpoint(cp)?;
            }
            Ok(cps)
        })
    }

    /// Entry `seq`, proven included in the signed head, its consent signatures verified (a
    /// verified read: O(log n)).
    pub fn entry(&self, seq: u64) -> StoreResult<SignedEntry> {
        self.read(|rtx| {
            let proof = Proof::new(self, &rtx)?;
            proof.entry(seq)
        })
    }

    /// The newest `n` entries, oldest first, each proven included in the signed head.
    pub fn tail(&self, n: u64) -> StoreResult<Vec<SignedEntry>> {
        self.read(|rtx| {
            let proof = Proof::new(self, &rtx)?;
            let size = proof.head.size;
            (size.saturating_sub(n)..size)
                .map(|seq| proof.entry(seq))
                .collect()
        })
    }

    /// Entries `from..to` (clamped to the ledger), oldest first, each proven included in the
    /// signed head.
    pub fn entries(&self, from: u64, to: u64) -> StoreResult<Vec<SignedEntry>> {
        self.read(|rtx| {
            let proof = Proof::new(self, &rtx)?;
            let size = proof.head.size;
            (from.min(size)..to.min(size).max(from.min(size)))
                .map(|seq| proof.entry(seq))
                .collect()
        })
    }
}

/// One snapshot and its verified head: what every check of a read runs against.
pub(crate) struct Proof<'a> {
    reg: &'a Registry,
    rtx: &'a ReadTransaction,
    /// The snapshot's entries, opened once for every entry the read proves.
    entries: ReadOnlyTable<u64, &'static [u8]>,
    pub(crate) head: VerifiedHead,
}

impl<'a> Proof<'a> {
    pub(crate) fn new(reg: &'a Registry, rtx: &'a ReadTransaction) -> StoreResult<Proof<'a>> {
        let entries = rtx.open_table(ENTRIES)?;
        Ok(Proof {
            head: reg.head_of(rtx, &entries)?,
            entries,
            reg,
            rtx,
        })
    }

    /// Entry `seq`, proven included in the head, with the signatures of the keys whose
    /// consent its event needs verified (they are outside the Merkle leaf).
    pub(crate) fn entry(&self, seq: u64) -> StoreResult<SignedEntry> {
        let e = self
            .reg
            .proven_entry(self.rtx, &self.entries, &self.head, seq)?;
        for id in required_consents(&e.entry.event) {
            let rec = load_key(self.rtx, &id)?.ok_or_else(|| {
                differs(
                    seq,
                    &format!("entry (its consenting key {id} has no record)"),
                )
            })?;
            self.key(&rec)?;
            e.envelope
                .verify(LEDGER_ENTRY_TYPE, std::slice::from_ref(&rec.public_key), 1)
                .map_err(|err| {
                    StoreError::from(err)
                        .context(&format!("the stored consent signature of {id}"))
                        .at_seq(seq)
                })?;
        }
        Ok(e)
    }

    /// A stored checkpoint: signed by the key it names (a key record checked against the
    /// ledger), stating the size it is stored under, and consistent with the signed head (a
    /// consistency proof from the stored tree).
    pub(crate) fn checkpoint(&self, cp: &StoredCheckpoint) -> StoreResult<()> {
        let damaged = |what: &str| {
            StoreError::corrupt(format!(
                "the stored checkpoint at size {} {what}: the record was damaged or edited (run `cairn ledger audit`)",
                cp.size
            ))
        };
        if cp.size > self.head.size {
            return Err(damaged("lies beyond the signed head"));
        }
        let rec = load_key(self.rtx, &cp.key_id)?
            .ok_or_else(|| damaged("names a key the registry does not hold"))?;
        self.key(&rec)?;
        let (size, root) = open_note(&cp.note, self.reg.origin(), &rec.public_key)
            .map_err(|e| damaged(&format!("does not verify ({e})")))?;
        if (size, root) != (cp.size, cp.root) {
            return Err(damaged("states another size or root"));
        }
        let n = tree_size(&self.entries)?;
        let tree = self.rtx.open_table(TREE)?;
        let hashes = TreeView::new(&tree, n)
            .run(|v| cairn_core::merkle::prove_consistency(v, cp.size, self.head.size))?;
        ConsistencyProof {
            old_size: cp.size,
            new_size: self.head.size,
            hashes,
        }
        .verify(&cp.root, &self.head.root)
        .map_err(|_| damaged("is not consistent with the signed head"))
    }

    /// The event of entry `seq`, proven included in the head.
    fn event(&self, seq: u64) -> StoreResult<(Event, u64)> {
        let e = self
            .reg
            .proven_entry(self.rtx, &self.entries, &self.head, seq)?
            .entry;
        Ok((e.event, e.time))
    }

    fn revocation(
        &self,
        r: &Revocation,
        what: &str,
        matches: impl Fn(&Event) -> bool,
    ) -> StoreResult<()> {
        let (event, time) = self.event(r.seq)?;
        let same = matches(&event)
            && time == r.at
            && match &event {
                Event::KeyRevoked {
                    reason, revoker, ..
                }
                | Event::TokenRevoked {
                    reason, revoker, ..
                }
                | Event::ManifestRevoked {
                    reason, revoker, ..
                } => *reason == r.reason && *revoker == r.revoker,
                _ => false,
            };
        if same {
            Ok(())
        } else {
            Err(differs(r.seq, what))
        }
    }

    /// A key record against its `key_added` entry and the entry that set its status.
    pub(crate) fn key(&self, rec: &KeyRecord) -> StoreResult<()> {
        let id = rec.public_key.key_id();
        let (event, time) = self.event(rec.added_seq)?;
        let added = matches!(&event, Event::KeyAdded { public_key, label, roles, expires_at }
            if *public_key == rec.public_key && *label == rec.label && *roles == rec.roles
                && *expires_at == rec.expires_at);
        if !added || time != rec.added_at {
            return Err(differs(rec.added_seq, &format!("record of key {id}")));
        }
        match &rec.status {
            KeyStatus::Active => Ok(()),
            KeyStatus::Rotated { successor, seq, at } => {
                let (event, time) = self.event(*seq)?;
                if matches!(event, Event::KeyRotated { old, new } if old == id && new == *successor)
                    && time == *at
                {
                    Ok(())
                } else {
                    Err(differs(*seq, &format!("status of key {id}")))
                }
            }
            KeyStatus::Revoked {
                reason,
                revoker,
                seq,
                at,
            } => self.revocation(
                &Revocation {
                    reason: reason.clone(),
                    revoker: *revoker,
                    seq: *seq,
                    at: *at,
                },
                &format!("status of key {id}"),
                |e| matches!(e, Event::KeyRevoked { key_id, .. } if *key_id == id),
            ),
        }
    }

    /// A node record against its `node_registered` entry (id, and spec digest: that of the
    /// spec's stored bytes, [`decode_node`](crate::objects::nodes::decode_node)).
    pub(crate) fn node(&self, node: &StoredNode) -> StoreResult<()> {
        let info = &node.info;
        let (event, time) = self.event(info.seq)?;
        let ok = matches!(&event, Event::NodeRegistered { node_id, spec_digest }
            if *node_id == info.spec.id && *spec_digest == node.spec_digest);
        if ok && time == info.registered_at {
            Ok(())
        } else {
            Err(differs(
                info.seq,
                &format!("record of node {:?}", info.spec.id),
            ))
        }
    }

    /// A handle record against its `handle_registered` entry (blind index, identity digest
    /// and time).
    pub(crate) fn handle(&self, info: &crate::objects::handles::HandleInfo) -> StoreResult<()> {
        let (event, time) = self.event(info.seq)?;
        let ok = matches!(&event, Event::HandleRegistered { blind_index, identity_digest, .. }
            if *blind_index == info.blind_index && *identity_digest == info.identity_digest());
        if ok && time == info.registered_at {
            Ok(())
        } else {
            Err(differs(
                info.seq,
                &format!(
                    "record of handle {}",
                    crate::objects::handles::show(&info.blind_index)
                ),
            ))
        }
    }

    /// A peer record against its `peer_key_stored` entry (peer id, key id, time) and, once
    /// verified, its `peer_key_verified` entry.
    pub(crate) fn peer(&self, info: &crate::objects::peers::PeerInfo) -> StoreResult<()> {
        let what = format!("record of peer {:?}", info.peer_id);
        let key = info.key_id();
        let (event, time) = self.event(info.stored_seq)?;
        let ok = matches!(&event, Event::PeerKeyStored { peer_id, key_id }
            if *peer_id == info.peer_id && *key_id == key);
        if !ok || time != info.stored_at {
            return Err(differs(info.stored_seq, &what));
        }
        if let Some(v) = &info.verified {
            let (event, time) = self.event(v.seq)?;
            let ok = matches!(&event, Event::PeerKeyVerified { peer_id, key_id }
                if *peer_id == info.peer_id && *key_id == key);
            if !ok || time != v.at {
                return Err(differs(v.seq, &what));
            }
        }
        Ok(())
    }

    /// A token against its `token_issued` entry (its id is the hash of the stored envelope)
    /// and its revocation entry.
    pub(crate) fn token(&self, t: &TokenInfo) -> StoreResult<()> {
        let (event, time) = self.event(t.seq)?;
        let ok = matches!(&event, Event::TokenIssued { token_id, audience, expires_at, .. }
            if *token_id == t.id && *audience == t.claims.audience
                && *expires_at == t.claims.expires_at);
        if !ok || time != t.issued_at {
            return Err(differs(t.seq, "token"));
        }
        match &t.revoked {
            None => Ok(()),
            Some(r) => self.revocation(
                r,
                "revocation of a token",
                |e| matches!(e, Event::TokenRevoked { token_id, .. } if *token_id == t.id),
            ),
        }
    }

    /// A manifest against its `manifest_signed` entry (digest, artifact name and SHA-256),
    /// its newest signing entry, and its revocation entry.
    pub(crate) fn manifest(&self, m: &ManifestInfo) -> StoreResult<()> {
        let (event, time) = self.event(m.signed_seq)?;
        let ok = matches!(&event, Event::ManifestSigned { manifest_digest, artifact_name, artifact_sha256, .. }
            if *manifest_digest == m.digest && *artifact_name == m.claims.name
                && *artifact_sha256 == m.claims.sha256);
        if !ok || time != m.signed_at {
            return Err(differs(m.signed_seq, "manifest"));
        }
        // Co-signatures are outside the manifest's identity: each must verify by its key.
        for s in &m.envelope.signatures {
            let rec = load_key(self.rtx, &s.keyid)?
                .ok_or_else(|| differs(m.last_seq, "manifest (a signer has no key record)"))?;
            self.key(&rec)?;
            m.envelope
                .verify(
                    MANIFEST_PAYLOAD_TYPE,
                    std::slice::from_ref(&rec.public_key),
                    1,
                )
                .map_err(|_| differs(m.last_seq, "manifest's signature"))?;
        }
        if m.last_seq != m.signed_seq {
            let (event, _) = self.event(m.last_seq)?;
            let is_digest = |d: &Digest| *d == m.digest;
            if !matches!(&event, Event::ManifestCosigned { manifest_digest, .. } if is_digest(manifest_digest))
            {
                return Err(differs(m.last_seq, "manifest"));
            }
        }
        match &m.revoked {
            None => Ok(()),
            Some(r) => self.revocation(
                r,
                "revocation of a manifest",
                |e| matches!(e, Event::ManifestRevoked { manifest_digest, .. } if *manifest_digest == m.digest),
            ),
        }
    }

    /// A trust-root version against its `trust_root_updated` entry (version and root id).
    pub(crate) fn trust_root(&self, r: &StoredTrustRoot) -> StoreResult<()> {
        let (event, _) = self.event(r.seq)?;
        let id = cairn_core::trust::root_id(&r.envelope.payload);
        if matches!(event, Event::TrustRootUpdated { root_version, root_id }
            if root_version == r.root.root_version && root_id == id)
        {
            Ok(())
        } else {
            Err(differs(
                r.seq,
                &format!("trust root v{}", r.root.root_version),
            ))
        }
    }
}
