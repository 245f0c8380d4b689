//! The revocation map kept in the `revocation_map` table: the sparse Merkle map of every
//! revoked key, token and manifest (docs/FORMATS.md section 17), stored as the branch records
//! of [`cairn_core::revocation::nodes`], so that an insert, the root and a proof read O(log n)
//! records.
//!
//! Every entry that revokes an object inserts its map key with the entry's `seq` in the same
//! write transaction as the entry ([`Txn::append_raw`](crate::kernel::db::Txn)); every note the
//! log key signs (tree heads and checkpoints) carries the map's `cairn.revocations` line.
//!
//! Layout: key `b"top"` → `count (u64 big-endian) ‖ node?` (the map's size and top node; its
//! presence means the map is built); key `depth (u16 big-endian) ‖ prefix (32 bytes)` →
//! `hash (32) ‖ left node ‖ right node`. A node is `00 ‖ key (32) ‖ seq (u64 big-endian)`
//! (a leaf) or `01 ‖ depth (u16 big-endian) ‖ prefix (32)` (a branch).
//!
//! Files written before the table existed have no `top` record. The map is then rebuilt from
//! the ledger's revocations by the first write transaction that needs it (one pass over the
//! entries); until then readers see it as not built ([`read_ref`] gives `None`).

use std::cell::RefCell;

use redb::{ReadableTable, TableError};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::Registry;
use crate::kernel::entries::decode_entry;
use crate::kernel::head::VerifiedHead;
use crate::kernel::schema::{ENTRIES, META, REVOCATION_MAP};
use cairn_core::checkpoint::{Checkpoint, RevocationsRef};
use cairn_core::encoding::Digest;
use cairn_core::note::Note;
use cairn_core::revocation::nodes::{self, BranchRecord, MapNodes, MapUpdate, StoredNode};
use cairn_core::revocation::{map_key, revoked_object, RevocationProof};
use cairn_core::revocation::{ObjectKind, ProofStatus};
use cairn_core::ErrorCode;

/// Key of the top record.
const TOP: &[u8] = b"top";

fn encode_node(node: &StoredNode, out: &mut Vec<u8>) {
    match node {
        StoredNode::Leaf { key, seq } => {
            out.push(0);
            out.extend_from_slice(key);
            out.extend_from_slice(&seq.to_be_bytes());
        }
        StoredNode::Branch { depth, prefix } => {
            out.push(1);
            out.extend_from_slice(&depth.to_be_bytes());
            out.extend_from_slice(prefix);
        }
    }
}

fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*head)
}

fn decode_node(bytes: &mut &[u8]) -> Option<StoredNode> {
    match take::<1>(bytes)?[0] {
        0 => Some(StoredNode::Leaf {
            key: take::<32>(bytes)?,
            seq: u64::from_be_bytes(take::<8>(bytes)?),
        }),
        1 => {
            let depth = u16::from_be_bytes(take::<2>(bytes)?);
            (depth < 256).then_some(())?;
            Some(StoredNode::Branch {
                depth,
                prefix: take::<32>(bytes)?,
            })
        }
        _ => None,
    }
}

fn branch_key(depth: u16, prefix: &Digest) -> [u8; 34] {
    let mut k = [0u8; 34];
    k[..2].copy_from_slice(&depth.to_be_bytes());
    k[2..].copy_from_slice(prefix);
    k
}

fn encode_branch(rec: &BranchRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 2 * 41);
    out.extend_from_slice(&rec.hash);
    encode_node(&rec.left, &mut out);
    encode_node(&rec.right, &mut out);
    out
}

fn decode_branch(mut bytes: &[u8]) -> Option<BranchRecord> {
    let b = &mut bytes;
    let rec = BranchRecord {
        hash: take::<32>(b)?,
        left: decode_node(b)?,
        right: decode_node(b)?,
    };
    b.is_empty().then_some(rec)
}

/// The top record: the number of revoked objects and the top node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MapTop {
    pub count: u64,
    pub top: Option<StoredNode>,
}

fn encode_top(t: &MapTop) -> Vec<u8> {
    let mut out = t.count.to_be_bytes().to_vec();
    if let Some(n) = &t.top {
        encode_node(n, &mut out);
    }
    out
}

fn decode_top(mut bytes: &[u8]) -> StoreResult<MapTop> {
    let bad = || StoreError::corrupt("the revocation map's top record does not decode");
    let b = &mut bytes;
    let count = u64::from_be_bytes(take::<8>(b).ok_or_else(bad)?);
    let top = if b.is_empty() {
        None
    } else {
        Some(decode_node(b).ok_or_else(bad)?)
    };
    if !b.is_empty() || (count == 0) != top.is_none() {
        return Err(bad());
    }
    Ok(MapTop { count, top })
}

/// [`MapNodes`] over the stored table. A store error met during a read is kept aside and
/// handed back by [`Stored::run`] (the core trait speaks core errors).
struct Stored<'t, T> {
    table: &'t T,
    top: Option<StoredNode>,
    failure: RefCell<Option<StoreError>>,
}

impl<'t, T: ReadableTable<&'static [u8], &'static [u8]>> Stored<'t, T> {
    fn new(table: &'t T, top: Option<StoredNode>) -> Self {
        Stored {
            table,
            top,
            failure: RefCell::new(None),
        }
    }

    /// Runs a core map operation; a store failure wins, a core error on stored records is
    /// damage (`corrupt`), except `replayed` (a second revocation of an object).
    fn run<R>(&self, f: impl FnOnce(&Self) -> cairn_core::Result<R>) -> StoreResult<R> {
        let out = f(self);
        if let Some(e) = self.failure.borrow_mut().take() {
            return Err(e);
        }
        out.map_err(|e| match e.code() {
            ErrorCode::Replayed => StoreError::from(e),
            _ => StoreError::corrupt(format!("revocation map: {}", e.detail())),
        })
    }
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> MapNodes for Stored<'_, T> {
    fn top(&self) -> cairn_core::Result<Option<StoredNode>> {
        Ok(self.top)
    }

    fn branch(&self, depth: u16, prefix: &Digest) -> cairn_core::Result<BranchRecord> {
        let missing = || {
            cairn_core::Error::malformed(format!(
                "no valid branch record at depth {depth}, prefix {}",
                cairn_core::encoding::hex_encode(prefix)
            ))
        };
        match self.table.get(branch_key(depth, prefix).as_slice()) {
            Ok(Some(v)) => decode_branch(v.value()).ok_or_else(missing),
            Ok(None) => Err(missing()),
            Err(e) => {
                *self.failure.borrow_mut() = Some(e.into());
                Err(missing())
            }
        }
    }
}

/// The top record of a table, `None` if the map is not built.
fn read_top(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> StoreResult<Option<MapTop>> {
    table.get(TOP)?.map(|v| decode_top(v.value())).transpose()
}

/// The map as a checkpoint line names it, from a read snapshot: `None` when the file has no
/// built map yet (written before the table existed; the next write builds it).
pub(crate) fn read_ref(rtx: &redb::ReadTransaction) -> StoreResult<Option<RevocationsRef>> {
    let table = match rtx.open_table(REVOCATION_MAP) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(top) = read_top(&table)? else {
        return Ok(None);
    };
    Ok(Some(RevocationsRef {
        count: top.count,
        root: Stored::new(&table, top.top).run(nodes::root)?,
    }))
}

/// A proof about `key` from the map of a read snapshot (`None` when the map is not built).
pub(crate) fn read_proof(
    rtx: &redb::ReadTransaction,
    key: &Digest,
) -> StoreResult<Option<RevocationProof>> {
    let table = match rtx.open_table(REVOCATION_MAP) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(top) = read_top(&table)? else {
        return Ok(None);
    };
    Stored::new(&table, top.top)
        .run(|s| nodes::prove(s, key))
        .map(Some)
}

/// Where one object stands in the revocation map under the registry's signed head, with the
/// proof: what [`Registry::revocation_proof`] answers.
#[derive(Debug, Clone)]
pub struct RevocationStatus {
    /// The object's kind.
    pub kind: ObjectKind,
    /// The object's id (a key id, a token id, a manifest digest).
    pub id: Digest,
    /// The entry that revoked it, or `None`: not revoked as of the head (the proof, checked
    /// against [`RevocationStatus::revocations`], says so).
    pub revoked_by: Option<u64>,
    /// The signed head's checkpoint note (signed by the log key), whose `cairn.revocations`
    /// line commits to the map the proof is checked against.
    pub note: String,
    /// The head.
    pub head: VerifiedHead,
    /// The map as of the head (its count and root: the note's line).
    pub revocations: RevocationsRef,
    /// The proof about the object's key: absent (not revoked as of the head) or present
    /// (revoked by its entry `seq`).
    pub proof: RevocationProof,
}

impl Registry {
    /// Whether the object `kind` `id` is revoked as of the signed head, with the revocation
    /// map's proof (docs/FORMATS.md section 17), read in one snapshot: the head's note, the
    /// map's root its `cairn.revocations` line states (checked here to be the stored map's),
    /// and the proof, checked here against that root and which a verifier checks again offline
    /// once the note's signature verifies. `invalid_state` while the signed head states no map
    /// (a file from before it, not written to since); `corrupt` when it states another.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use cairn_core::revocation::{map_key, ObjectKind, ProofStatus};
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.org/log", Protection::Insecure))?;
    /// let s = reg.revocation_proof(ObjectKind::Token, &[7; 32])?;
    /// assert_eq!((s.revoked_by, s.proof.status()), (None, ProofStatus::Absent));
    /// s.proof.verify_non_membership(&s.revocations.root, &map_key(ObjectKind::Token, &[7; 32]))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn revocation_proof(&self, kind: ObjectKind, id: &Digest) -> StoreResult<RevocationStatus> {
        self.read(|rtx| {
            let head = self.head_in(&rtx)?;
            let note = crate::kernel::schema::read_head_record(&rtx.open_table(META)?)?.note;
            let revocations = read_ref(&rtx)?.ok_or_else(not_built)?;
            let proof = read_proof(&rtx, &map_key(kind, id))?.ok_or_else(not_built)?;
            let stated = Note::parse(note.as_bytes())
                .and_then(|n| Checkpoint::parse_text(n.text()))
                .and_then(|c| c.revocations())
                .map_err(|e| {
                    StoreError::corrupt(format!("the signed head's note: {}", e.detail()))
                })?;
            match stated {
                Some(s) if s == revocations => {}
                // A head signed before the map was built (a file from before it, whose map a
                // checkpoint-only write then built without signing a new head) states no map:
                // nothing to prove against until the next write signs one.
                None => return Err(not_built()),
                Some(_) => {
                    return Err(StoreError::corrupt(
                        "the signed head's cairn.revocations line is not the stored revocation map",
                    ))
                }
            }
            let key = map_key(kind, id);
            let damaged = |e: cairn_core::Error| {
                StoreError::corrupt(format!("the revocation map's proof: {}", e.detail()))
            };
            let revoked_by = match proof.status() {
                ProofStatus::Absent => {
                    proof
                        .verify_non_membership(&revocations.root, &key)
                        .map_err(damaged)?;
                    None
                }
                ProofStatus::Present { .. } => Some(
                    proof
                        .verify_membership(&revocations.root, &key)
                        .map_err(damaged)?,
                ),
            };
            Ok(RevocationStatus {
                kind,
                id: *id,
                revoked_by,
                note,
                head,
                revocations,
                proof,
            })
        })
    }
}

fn not_built() -> StoreError {
    StoreError::new(
        StoreCode::InvalidState,
        "the signed head states no revocation map yet (a registry file from before it): the next write signs one that does",
    )
}

/// Inserts `key` (revoked by entry `seq`) into the stored map of a write transaction whose map
/// is built.
fn insert_in(
    table: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    top: MapTop,
    key: Digest,
    seq: u64,
) -> StoreResult<MapTop> {
    // The path the insert reuses is proven against the map's root first: an inner record
    // edited behind the registry (its stored hash kept) would otherwise be folded into the
    // next signed root.
    let stored = Stored::new(&*table, top.top);
    let root = stored.run(nodes::root)?;
    stored
        .run(|s| nodes::prove(s, &key))?
        .verify_non_membership(&root, &key)
        .map_err(|e| {
            StoreError::corrupt(format!(
                "the revocation map's path for a new revocation does not prove it absent under the map's root ({}): the map was changed behind the registry",
                e.detail()
            ))
        })?;
    let update: MapUpdate = Stored::new(&*table, top.top).run(|s| nodes::insert(s, key, seq))?;
    for (depth, prefix, rec) in &update.branches {
        table.insert(
            branch_key(*depth, prefix).as_slice(),
            encode_branch(rec).as_slice(),
        )?;
    }
    let new_top = MapTop {
        count: top.count.checked_add(1).ok_or_else(|| {
            StoreError::corrupt("the revocation map's count is at its largest: a damaged record")
        })?,
        top: Some(update.top),
    };
    table.insert(TOP, encode_top(&new_top).as_slice())?;
    Ok(new_top)
}

/// Makes sure the map of a write transaction is built: a file written before the table existed
/// gets it rebuilt from the revocations among its first `n` entries (the entries before the
/// one being appended). Returns the top record.
pub(crate) fn ensure_built(tx: &redb::WriteTransaction, n: u64) -> StoreResult<MapTop> {
    let mut table = tx.open_table(REVOCATION_MAP)?;
    if let Some(top) = read_top(&table)? {
        return Ok(top);
    }
    let mut top = MapTop {
        count: 0,
        top: None,
    };
    if n > 0 {
        let entries = tx.open_table(ENTRIES)?;
        for row in entries.range(0..n)? {
            let (k, v) = row?;
            let e = decode_entry(k.value(), v.value())?;
            if let Some((kind, id)) = revoked_object(&e.entry.event) {
                top = insert_in(&mut table, top, map_key(kind, &id), e.entry.seq)?;
            }
        }
    }
    table.insert(TOP, encode_top(&top).as_slice())?;
    Ok(top)
}

/// Records the revocation made by the entry `seq` (if its event is one) in the map, in the
/// entry's own write transaction. `n` = the entries before it.
pub(crate) fn record(
    tx: &redb::WriteTransaction,
    n: u64,
    event: &cairn_core::ledger::Event,
    seq: u64,
) -> StoreResult<()> {
    let Some((kind, id)) = revoked_object(event) else {
        return Ok(());
    };
    let top = ensure_built(tx, n)?;
    let mut table = tx.open_table(REVOCATION_MAP)?;
    insert_in(&mut table, top, map_key(kind, &id), seq)
        .map_err(|e| e.at_seq(seq))
        .map(|_| ())
}

/// The map's line for a note signed in a write transaction (building the map if needed).
pub(crate) fn current_ref(tx: &redb::WriteTransaction, n: u64) -> StoreResult<RevocationsRef> {
    let top = ensure_built(tx, n)?;
    let table = tx.open_table(REVOCATION_MAP)?;
    Ok(RevocationsRef {
        count: top.count,
        root: Stored::new(&table, top.top).run(nodes::root)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child edited under a branch record whose stored hash is kept leaves the root read
    /// from the records unchanged; an insert whose path runs through it proves that path
    /// against the root first, and refuses (`corrupt`) rather than fold the edit into a new
    /// root. Unedited, the same insert goes through.
    #[test]
    fn an_insert_refuses_a_path_edited_behind_the_map() -> Result<(), Box<dyn std::error::Error>> {
        const MAP: redb::TableDefinition<&[u8], &[u8]> =
            redb::TableDefinition::new("revocation_map");
        let (a, b, c) = ([0x00; 32], [0x80; 32], [0x01; 32]);
        for edited in [false, true] {
            let dir = tempfile::tempdir()?;
            let db = redb::Database::create(dir.path().join("m.redb"))?;
            let tx = db.begin_write()?;
            {
                let mut t = tx.open_table(MAP)?;
                let empty = MapTop {
                    count: 0,
                    top: None,
                };
                let top = insert_in(&mut t, empty, a, 1)?;
                let top = insert_in(&mut t, top, b, 2)?;
                if edited {
                    // The top branch (depth 0, a and b differ in their first bit): its left
                    // leaf, a, given another seq.
                    let key = branch_key(0, &[0; 32]);
                    let mut rec = t
                        .get(key.as_slice())?
                        .and_then(|v| decode_branch(v.value()))
                        .ok_or("the top branch")?;
                    rec.left = StoredNode::Leaf { key: a, seq: 7 };
                    t.insert(key.as_slice(), encode_branch(&rec).as_slice())?;
                }
                // c shares a's first bit: its path runs through a's leaf.
                match insert_in(&mut t, top, c, 3) {
                    Ok(_) => assert!(!edited, "an edited path was reused"),
                    Err(e) => {
                        assert!(edited, "{e}");
                        assert_eq!(e.code(), StoreCode::Corrupt, "{e}");
                    }
                }
            }
            tx.abort()?;
        }
        Ok(())
    }

    #[test]
    fn records_round_trip_and_refuse_damage() {
        let leaf = StoredNode::Leaf {
            key: [7; 32],
            seq: 9,
        };
        let branch = StoredNode::Branch {
            depth: 3,
            prefix: [0xe0; 32],
        };
        let rec = BranchRecord {
            hash: [1; 32],
            left: leaf,
            right: branch,
        };
        let bytes = encode_branch(&rec);
        assert_eq!(decode_branch(&bytes), Some(rec));
        for cut in 0..bytes.len() {
            assert_eq!(decode_branch(&bytes[..cut]), None);
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_branch(&long), None);
        let mut deep = bytes.clone();
        deep[32 + 41 + 1] = 1; // depth 256 + 3
        assert_eq!(decode_branch(&deep), None);
        let t = MapTop {
            count: 2,
            top: Some(branch),
        };
        assert_eq!(decode_top(&encode_top(&t)).unwrap(), t);
        let empty = MapTop {
            count: 0,
            top: None,
        };
        assert_eq!(decode_top(&encode_top(&empty)).unwrap(), empty);
        assert!(decode_top(&0u64.to_be_bytes()[..7]).is_err());
        assert!(decode_top(&1u64.to_be_bytes()).is_err());
    }
}
