//! The full audit: every entry, the whole tree, every checkpoint, every state record.
//!
//! Entries are checked in order, and the audit stops at the FIRST bad one, naming its
//! sequence number: it must decode, continue the hash chain, pass the ledger rule book (the
//! writer's rules, with the signatures of the keys whose consent its event needs), and be the
//! tree's leaf at its index; every stored subtree hash the entry completes is recomputed.
//! Then the state tables are compared with the state the ledger describes (a record edited,
//! added or removed behind the registry's back is reported against the entry that made it),
//! every checkpoint is verified against the (now verified) tree, and so is the signed head,
//! which commits to every entry. Last, the revocation map rebuilt from the ledger's
//! revocations is compared with the stored map, and what every checkpoint (at its size) and
//! the head claim besides their tree — the `cairn.trust-root` they name, the
//! `cairn.revocations` map they commit to — with what the ledger gives.

use std::collections::{BTreeMap, BTreeSet};

use redb::{ReadTransaction, ReadableMultimapTable, ReadableTable};

use crate::error::{StoreError, StoreResult};
use crate::integrity::verify::{check_checkpoint, check_tree_size};
use crate::kernel::checkpoints::CheckpointRecord;
use crate::kernel::db::Registry;
use crate::kernel::entries::{decode_entry, tree_size, SignedEntry};
use crate::kernel::schema::{
    self, CHECKPOINTS, ENTRIES, KEYS, META, NODES, NODES_BY_CAPABILITY, NODES_BY_SIGNAL, TREE,
};
use crate::kernel::tree::TreeView;
use crate::objects::keys::{KeyRecord, KeyStatus};
use crate::objects::nodes::NodeInfo;
use cairn_core::checkpoint::RevocationsRef;
use cairn_core::crypto::KeyId;
use cairn_core::encoding::{hex_encode, Digest};
use cairn_core::error::ErrorCode;
use cairn_core::ledger::ChainVerifier;
use cairn_core::ledger::{check_checkpoint_claims, LedgerClaims, LedgerState};
use cairn_core::merkle;
use cairn_core::revocation::{map_key, revoked_object, NodeMap};
use cairn_core::UnixTime;

/// What a successful audit covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries verified (= tree size).
    pub entries: u64,
    /// Merkle root of the whole tree.
    pub root: Digest,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Size of the newest checkpoint.
    pub newest_checkpoint: u64,
    /// Key records checked.
    pub keys: u64,
    /// Node records checked.
    pub nodes: u64,
    /// Tokens checked.
    pub tokens: u64,
    /// Manifests checked.
    pub manifests: u64,
    /// Trust-root versions checked.
    pub trust_roots: u64,
}

fn bad(seq: u64, code: ErrorCode, detail: String) -> StoreError {
    StoreError::core(code, detail).at_seq(seq)
}

/// Replays one stored entry onto `state` through the ledger rule book
/// ([`LedgerState::apply`], the same rules the writer applies: consent signatures included).
/// Entries carry no log-key signature; the signed head and the checkpoints commit to them
/// through the tree.
pub(crate) fn replay_entry(state: &mut LedgerState, e: &SignedEntry) -> StoreResult<()> {
    let seq = e.entry.seq;
    state
        .apply(&e.entry, &e.envelope)
        .map_err(|err| StoreError::from(err).at_seq(seq))
}

/// The time of every entry, by sequence number: what each state record's time stamp
/// (`added_at`, `registered_at`, `issued_at`, `signed_at`, `stored_at`, a verification's or a
/// revocation's `at`) must equal, as a verified read requires (`objects::verified`).
pub(crate) struct EntryTimes(Vec<UnixTime>);

impl EntryTimes {
    /// Whether `at`, a record's time stamp for the entry `seq`, is not that entry's time.
    pub(crate) fn differs(&self, seq: u64, at: UnixTime) -> bool {
        usize::try_from(seq)
            .ok()
            .and_then(|i| self.0.get(i))
            .is_none_or(|t| *t != at)
    }
}

/// What the replayed ledger gives for a checkpoint's claim lines (its revocation map and
/// trust root), at each size that has a checkpoint (and at the whole ledger's size).
struct ReplayedClaims {
    map: NodeMap,
    count: u64,
    at: BTreeMap<u64, LedgerClaims>,
}

impl ReplayedClaims {
    fn current(&self) -> StoreResult<RevocationsRef> {
        Ok(RevocationsRef {
            count: self.count,
            root: self
                .map
                .root()
                .map_err(|e| StoreError::corrupt(e.detail().to_owned()))?,
        })
    }

    fn claims(&self, replay: &LedgerState) -> StoreResult<LedgerClaims> {
        Ok(LedgerClaims {
            trust_root: replay.trust_root_ref(),
            revocations: self.current()?,
        })
    }
}

/// Walks every entry: decode, chain, signatures, replay, leaf and subtree hashes.
fn audit_entries(
    rtx: &ReadTransaction,
) -> StoreResult<(LedgerState, u64, ReplayedClaims, EntryTimes)> {
    let entries = rtx.open_table(ENTRIES)?;
    let tree = rtx.open_table(TREE)?;
    let n = tree_size(&entries)?;
    let mut chain = ChainVerifier::new();
    let mut replay = LedgerState::new();
    let mut times = Vec::new();
    let mut sizes = BTreeSet::new();
    for row in rtx.open_table(CHECKPOINTS)?.iter()? {
        sizes.insert(row?.0.value());
    }
    sizes.insert(n);
    let mut maps = ReplayedClaims {
        map: NodeMap::new(),
        count: 0,
        at: BTreeMap::new(),
    };
    if sizes.contains(&0) {
        maps.at.insert(0, maps.claims(&replay)?);
    }
    for (expected_seq, row) in (0u64..).zip(entries.iter()?) {
        let (k, v) = row?;
        let seq = k.value();
        if seq != expected_seq {
            return Err(bad(
                expected_seq,
                ErrorCode::ChainBroken,
                format!("entry {expected_seq} is missing"),
            ));
        }
        let e = decode_entry(seq, v.value())?;
        chain
            .push_bytes(&e.envelope.payload)
            .map_err(|err| StoreError::from(err).at_seq(seq))?;
        replay_entry(&mut replay, &e)?;
        times.push(e.entry.time);
        if let Some((kind, id)) = revoked_object(&e.entry.event) {
            // The rule book refused a second revocation of an object, so this cannot repeat.
            maps.map
                .insert(map_key(kind, &id), seq)
                .map_err(|err| StoreError::from(err).at_seq(seq))?;
            maps.count += 1;
        }
        if sizes.contains(&(seq + 1)) {
            maps.at.insert(seq + 1, maps.claims(&replay)?);
        }
        // Recompute what appending this leaf stores, reading the already-checked left
        // siblings, and compare with what is stored.
        let recs =
            TreeView::new(&tree, seq).run(|view| merkle::hashes_to_store(view, e.leaf_hash()))?;
        for r in recs {
            let stored = tree.get((r.level, r.index))?.map(|h| h.value());
            if stored != Some(r.hash) {
                let what = if r.level == 0 {
                    "the entry is not the tree's leaf".to_owned()
                } else {
                    format!(
                        "the stored subtree hash at level {}, index {} is wrong",
                        r.level, r.index
                    )
                };
                return Err(bad(seq, ErrorCode::ProofInvalid, what));
            }
        }
    }
    check_tree_size(&tree, n)?;
    Ok((replay, n, maps, EntryTimes(times)))
}

/// What the replayed ledger gives against what the registry keeps and signs: the stored
/// revocation map (once built) against the ledger's revocations, then the claim lines of every
/// checkpoint at its size and of the signed head (`cairn_core::ledger::check_checkpoint_claims`:
/// the trust root they name, the revocation map they commit to). Lines a checkpoint lacks (one
/// from before them) claim nothing.
fn audit_claims(rtx: &ReadTransaction, maps: &ReplayedClaims, n: u64) -> StoreResult<()> {
    let want = maps.current()?;
    if let Some(stored) = crate::kernel::revmap::read_ref(rtx)? {
        if stored != want {
            return Err(StoreError::core(
                ErrorCode::ProofInvalid,
                format!(
                    "the stored revocation map holds {stored} but the ledger's revocations give {want}"
                ),
            ));
        }
    }
    let check = |note: &str, what: &str, want: &LedgerClaims| -> StoreResult<()> {
        cairn_core::note::Note::parse(note.as_bytes())
            .and_then(|n| cairn_core::checkpoint::Checkpoint::parse_text(n.text()))
            .and_then(|c| check_checkpoint_claims(&c.extensions, want))
            .map_err(|e| StoreError::from(e.context(what)))
    };
    let cps = rtx.open_table(CHECKPOINTS)?;
    for row in cps.iter()? {
        let (k, v) = row?;
        let size = k.value();
        let rec: CheckpointRecord = schema::decode(v.value(), "checkpoint")?;
        if let Some(want) = maps.at.get(&size) {
            check(&rec.note, &format!("the checkpoint at size {size}"), want)?;
        }
    }
    let head = schema::read_head_record(&rtx.open_table(META)?)?;
    let want = maps
        .at
        .get(&n)
        .ok_or_else(|| StoreError::corrupt("the audit lost the ledger's end"))?;
    check(&head.note, &format!("the signed head (size {n})"), want)
}

/// Verifies every checkpoint against the verified tree, each with the log key current at
/// its size.
fn audit_checkpoints(
    rtx: &ReadTransaction,
    origin: &str,
    replay: &LedgerState,
    keys: &BTreeMap<KeyId, KeyRecord>,
    n: u64,
) -> StoreResult<(u64, u64)> {
    let tree = rtx.open_table(TREE)?;
    let cps = rtx.open_table(CHECKPOINTS)?;
    let mut count = 0;
    let mut newest = 0;
    for row in cps.iter()? {
        let (k, v) = row?;
        let size = k.value();
        let rec: CheckpointRecord = schema::decode(v.value(), "checkpoint")?;
        let want = replay.log_key_at(size);
        if want != Some(rec.key_id) {
            return Err(StoreError::core(
                ErrorCode::Unauthorized,
                format!("the checkpoint at size {size} is signed by {}, which was not the log key at that size", rec.key_id),
            ));
        }
        let key = keys.get(&rec.key_id).ok_or_else(|| {
            StoreError::corrupt(format!(
                "the key {} of the checkpoint at size {size} has no record",
                rec.key_id
            ))
        })?;
        check_checkpoint(&tree, n, size, &rec, origin, key)?;
        count += 1;
        newest = size;
    }
    if count == 0 {
        return Err(StoreError::corrupt("the registry has no checkpoint"));
    }
    Ok((count, newest))
}

/// Compares the state tables with the replayed ledger state. Returns the first mismatch by
/// sequence number.
fn audit_state(
    rtx: &ReadTransaction,
    replay: &LedgerState,
    times: &EntryTimes,
) -> StoreResult<(BTreeMap<KeyId, KeyRecord>, u64)> {
    let mut problems: Vec<StoreError> = Vec::new();
    // Keys.
    let mut stored_keys = BTreeMap::new();
    {
        let t = rtx.open_table(KEYS)?;
        for row in t.iter()? {
            let (k, v) = row?;
            let rec: KeyRecord = schema::decode(v.value(), "key record")?;
            if rec.public_key.key_id().0 != k.value() {
                problems.push(StoreError::corrupt(format!(
                    "the key record under {} holds key {}",
                    hex_encode(&k.value()),
                    rec.public_key.key_id()
                )));
                continue;
            }
            stored_keys.insert(rec.public_key.key_id(), rec);
        }
    }
    for (id, want) in &replay.keys {
        let Some(have) = stored_keys.get(id) else {
            problems.push(bad(
                want.added_seq,
                ErrorCode::ChainBroken,
                format!("key {id} added here has no record"),
            ));
            continue;
        };
        if have.public_key != want.public_key
            || have.label != want.label
            || have.roles != want.roles
            || have.expires_at != want.expires_at
            || have.added_seq != want.added_seq
            || times.differs(want.added_seq, have.added_at)
        {
            problems.push(bad(
                want.added_seq,
                ErrorCode::ChainBroken,
                format!("the record of key {id} differs from this entry"),
            ));
        } else if have.status != want.status {
            let seq = match &want.status {
                KeyStatus::Active => want.added_seq,
                KeyStatus::Rotated { seq, .. } | KeyStatus::Revoked { seq, .. } => *seq,
            };
            problems.push(bad(
                seq,
                ErrorCode::ChainBroken,
                format!("the status of key {id} differs from the ledger"),
            ));
        }
    }
    for id in stored_keys
        .keys()
        .filter(|id| !replay.keys.contains_key(id))
    {
        problems.push(StoreError::corrupt(format!(
            "key {id} has a record but no ledger entry added it"
        )));
    }
    // Log key.
    let meta_log = schema::read_log_key_id(&rtx.open_table(META)?)?;
    if Some(meta_log) != replay.log_key() {
        problems.push(StoreError::corrupt(format!(
            "the log-key record names {meta_log}, the ledger says otherwise"
        )));
    }
    // Nodes.
    let mut node_count = 0;
    let mut stored_nodes: BTreeMap<String, NodeInfo> = BTreeMap::new();
    {
        let t = rtx.open_table(NODES)?;
        for row in t.iter()? {
            let (k, v) = row?;
            let info: NodeInfo = schema::decode(v.value(), "node record")?;
            stored_nodes.insert(String::from_utf8_lossy(k.value()).into_owned(), info);
        }
    }
    for (id, (seq, digest)) in &replay.nodes {
        match stored_nodes.get(id) {
            None => problems.push(bad(
                *seq,
                ErrorCode::ChainBroken,
                format!("node {id:?} registered here has no record"),
            )),
            Some(info)
                if info.seq != *seq
                    || info.spec.id != *id
                    || info.spec.digest() != *digest
                    || times.differs(*seq, info.registered_at) =>
            {
                problems.push(bad(
                    *seq,
                    ErrorCode::DigestMismatch,
                    format!("the record of node {id:?} differs from this entry"),
                ));
            }
            Some(_) => node_count += 1,
        }
    }
    for id in stored_nodes
        .keys()
        .filter(|id| !replay.nodes.contains_key(*id))
    {
        problems.push(StoreError::corrupt(format!(
            "node {id:?} has a record but is not registered in the ledger"
        )));
    }
    problems.extend(check_node_indexes(rtx, &stored_nodes)?);
    problems.extend(crate::integrity::audit_objects::check_objects(
        rtx, replay, times,
    )?);
    // The first problem by sequence number; problems without one come last.
    problems.sort_by_key(|e| e.seq().unwrap_or(u64::MAX));
    match problems.into_iter().next() {
        Some(e) => Err(e),
        None => Ok((stored_keys, node_count)),
    }
}

/// The capability and signal indexes must hold exactly what the node records declare.
fn check_node_indexes(
    rtx: &ReadTransaction,
    nodes: &BTreeMap<String, NodeInfo>,
) -> StoreResult<Vec<StoreError>> {
    let mut problems = Vec::new();
    type Declared = fn(&NodeInfo) -> &Vec<String>;
    let indexes: [(_, &str, Declared); 2] = [
        (NODES_BY_CAPABILITY, "capability", |n| &n.spec.capabilities),
        (NODES_BY_SIGNAL, "signal", |n| &n.spec.signals),
    ];
    for (def, what, list) in indexes {
        let mut want: BTreeSet<(String, String)> = BTreeSet::new();
        for (id, info) in nodes {
            want.extend(list(info).iter().map(|c| (c.clone(), id.clone())));
        }
        let t = rtx.open_multimap_table(def)?;
        let mut have: BTreeSet<(String, String)> = BTreeSet::new();
        for row in t.iter()? {
            let (k, values) = row?;
            for v in values {
                let name = String::from_utf8_lossy(k.value()).into_owned();
                have.insert((name, String::from_utf8_lossy(v?.value()).into_owned()));
            }
        }
        for (name, id) in want.difference(&have) {
            let seq = nodes.get(id).map_or(u64::MAX, |n| n.seq);
            problems.push(bad(
                seq,
                ErrorCode::ChainBroken,
                format!("the {what} index lacks {name:?} of node {id:?}"),
            ));
        }
        for (name, id) in have.difference(&want) {
            problems.push(StoreError::corrupt(format!("the {what} index lists node {id:?} under {name:?}, which its record does not declare")));
        }
    }
    Ok(problems)
}

impl Registry {
    /// Audits the whole registry (see the module docs). `Ok` means every check passed; an
    /// error names the first bad entry by sequence number ([`StoreError::seq`]) where there
    /// is one.
    pub fn audit(&self) -> StoreResult<AuditReport> {
        self.read(|rtx| {
            let (replay, n, maps, times) = audit_entries(&rtx)?;
            let (keys, nodes) = audit_state(&rtx, &replay, &times)?;
            let (checkpoints, newest_checkpoint) =
                audit_checkpoints(&rtx, self.origin(), &replay, &keys, n)?;
            let log_id = replay
                .log_key()
                .ok_or_else(|| StoreError::corrupt("the ledger is empty"))?;
            let log_record = keys.get(&log_id).ok_or_else(|| {
                StoreError::corrupt(format!("the log key {log_id} has no record"))
            })?;
            crate::integrity::verify::verify_head(
                &rtx,
                &rtx.open_table(TREE)?,
                n,
                self.origin(),
                log_record,
            )?;
            // With the signatures checked, what they claim besides the tree.
            audit_claims(&rtx, &maps, n)?;
            let root = crate::kernel::entries::root_at(&rtx.open_table(TREE)?, n, n)?;
            Ok(AuditReport {
                entries: n,
                root,
                checkpoints,
                newest_checkpoint,
                keys: keys.len() as u64,
                nodes,
                tokens: replay.tokens.len() as u64,
                manifests: replay.manifests.len() as u64,
                trust_roots: replay.trust_roots.len() as u64,
            })
        })
    }
}
