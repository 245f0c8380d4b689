//! The revocation map kept as stored nodes: incremental inserts, roots and proofs in O(log n)
//! reads, for a store that keeps the map in a table (cairn-store backs [`MapNodes`] with one).
//!
//! Only *branch* nodes (both subtrees non-empty) and leaves are stored; a subtree with a
//! single stored node below it hashes as that node folded up with empty siblings ("lifted").
//! Each branch record names the topmost stored node of each of its two subtrees, so a walk
//! from the top follows about log2 n records. n leaves make n − 1 branch records.
//!
//! Table layout for a store: key `(depth: u16 big-endian, prefix: 32 bytes)` — the branch's
//! depth and the first `depth` bits of every key below it, the remaining bits zero — and value
//! [`BranchRecord`] (its hash and its two children); plus one record for the top node of the
//! map ([`MapNodes::top`]). An insert ([`insert`]) returns the records to write, which go into
//! the same write transaction as the revocation's ledger entry. Roots and proofs computed
//! from these records are identical to [`super::MemoryMap`]'s.

use alloc::vec::Vec;

use super::{bit, empty_hash, leaf_hash, node_hash, ProofStatus, RevocationProof, DEPTH};
use crate::encoding::{hex_encode, Digest};
use crate::error::{Error, ErrorCode, Result};

/// A stored node: a leaf (a revoked key and its `seq`) or a branch (by depth and prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoredNode {
    /// The leaf of a revoked key, at depth 256.
    Leaf {
        /// The map key.
        key: Digest,
        /// The `seq` of the revoking entry.
        seq: u64,
    },
    /// A branch node.
    Branch {
        /// Its depth (0 = the root), below 256.
        depth: u16,
        /// The first `depth` bits shared by every key below it, the other bits zero.
        prefix: Digest,
    },
}

impl StoredNode {
    fn depth(&self) -> usize {
        match self {
            StoredNode::Leaf { .. } => DEPTH,
            StoredNode::Branch { depth, .. } => usize::from(*depth),
        }
    }

    /// A key whose path goes through this node (its bits below the depth are arbitrary).
    fn path(&self) -> &Digest {
        match self {
            StoredNode::Leaf { key, .. } => key,
            StoredNode::Branch { prefix, .. } => prefix,
        }
    }
}

/// A branch node's record: its hash (at its own height) and the topmost stored node of each
/// of its subtrees (`left` under bit 0, `right` under bit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchRecord {
    /// The node's hash.
    pub hash: Digest,
    /// The topmost stored node of the left subtree.
    pub left: StoredNode,
    /// The topmost stored node of the right subtree.
    pub right: StoredNode,
}

/// Read access to a stored map: what a store implements.
pub trait MapNodes {
    /// The topmost stored node of the whole map (`None` for the empty map).
    fn top(&self) -> Result<Option<StoredNode>>;
    /// The record of the branch at `(depth, prefix)`; an error if there is none.
    fn branch(&self, depth: u16, prefix: &Digest) -> Result<BranchRecord>;
}

/// The records an insert writes: every branch record created or changed, and the new top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapUpdate {
    /// The map's new top node.
    pub top: StoredNode,
    /// Branch records to put, keyed by (depth, prefix).
    pub branches: Vec<(u16, Digest, BranchRecord)>,
}

/// The first `depth` bits of `key`, the rest zero.
fn prefix_of(key: &Digest, depth: usize) -> Digest {
    let mut p = [0u8; 32];
    let full = depth / 8;
    p[..full].copy_from_slice(&key[..full]);
    if depth % 8 != 0 {
        p[full] = key[full] & (0xffu8 << (8 - depth % 8));
    }
    p
}

/// The first bit at which `a` and `b` differ, looking at bits `< limit` only.
fn first_difference(a: &Digest, b: &Digest, limit: usize) -> Option<usize> {
    (0..limit).find(|&i| bit(a, i) != bit(b, i))
}

/// `hash` of a node at depth `from` on the path of `path`, folded up to depth `to` with empty
/// siblings.
fn lift(mut hash: Digest, path: &Digest, from: usize, to: usize) -> Digest {
    for i in (to..from).rev() {
        let e = empty_hash(DEPTH - 1 - i);
        hash = if bit(path, i) {
            node_hash(&e, &hash)
        } else {
            node_hash(&hash, &e)
        };
    }
    hash
}

/// The hash of a stored node at its own depth (one read for a branch).
fn hash_of(nodes: &impl MapNodes, node: &StoredNode) -> Result<Digest> {
    match node {
        StoredNode::Leaf { key, seq } => Ok(leaf_hash(key, *seq)),
        StoredNode::Branch { depth, prefix } => Ok(nodes.branch(*depth, prefix)?.hash),
    }
}

/// The record of the branch at `depth` on `prefix`, whose children must lie deeper: a walk
/// down the map then ends within [`DEPTH`] steps even over damaged records, which could
/// otherwise point a branch back at itself or above it (`malformed`; a store reports it as
/// damage).
fn branch_below(nodes: &impl MapNodes, depth: u16, prefix: &Digest) -> Result<BranchRecord> {
    let rec = nodes.branch(depth, prefix)?;
    if rec.left.depth() <= usize::from(depth) || rec.right.depth() <= usize::from(depth) {
        return Err(Error::malformed(alloc::format!(
            "revocation map: the branch at depth {depth} has a child no deeper than itself"
        )));
    }
    Ok(rec)
}

fn make_branch(
    depth: usize,
    a: (StoredNode, Digest),
    b: (StoredNode, Digest),
) -> (StoredNode, BranchRecord) {
    let prefix = prefix_of(a.0.path(), depth);
    let (left, right) = if bit(a.0.path(), depth) {
        (b, a)
    } else {
        (a, b)
    };
    let hash = node_hash(
        &lift(left.1, left.0.path(), left.0.depth(), depth + 1),
        &lift(right.1, right.0.path(), right.0.depth(), depth + 1),
    );
    let node = StoredNode::Branch {
        // depth < 256 here: two distinct keys differ before bit 256.
        depth: depth as u16,
        prefix,
    };
    (
        node,
        BranchRecord {
            hash,
            left: left.0,
            right: right.0,
        },
    )
}

/// Computes the records that insert `key` (revoked by entry `seq`) into the stored map: about
/// log2 n reads and log2 n + 1 branch records. `replayed` if the key is already in the map.
pub fn insert(nodes: &impl MapNodes, key: Digest, seq: u64) -> Result<MapUpdate> {
    let mut branches = Vec::new();
    let top = match nodes.top()? {
        None => StoredNode::Leaf { key, seq },
        Some(t) => insert_below(nodes, t, key, seq, &mut branches)?.0,
    };
    Ok(MapUpdate { top, branches })
}

fn insert_below(
    nodes: &impl MapNodes,
    at: StoredNode,
    key: Digest,
    seq: u64,
    writes: &mut Vec<(u16, Digest, BranchRecord)>,
) -> Result<(StoredNode, Digest)> {
    let new_leaf = (StoredNode::Leaf { key, seq }, leaf_hash(&key, seq));
    match at {
        StoredNode::Leaf { key: k2, seq: s2 } => {
            if k2 == key {
                return Err(Error::new(
                    ErrorCode::Replayed,
                    alloc::format!(
                        "revocation map: key {} is already revoked (entry {s2})",
                        hex_encode(&key)
                    ),
                ));
            }
            let d = first_difference(&key, &k2, DEPTH).unwrap_or(DEPTH - 1);
            let (node, rec) = make_branch(d, new_leaf, (at, leaf_hash(&k2, s2)));
            push(writes, &node, rec);
            Ok((node, rec.hash))
        }
        StoredNode::Branch { depth, prefix } => {
            let d = usize::from(depth);
            if let Some(diff) = first_difference(&key, &prefix, d) {
                // The key leaves this branch's prefix above it: a new branch joins them.
                let existing = (at, nodes.branch(depth, &prefix)?.hash);
                let (node, rec) = make_branch(diff, new_leaf, existing);
                push(writes, &node, rec);
                return Ok((node, rec.hash));
            }
            let mut rec = branch_below(nodes, depth, &prefix)?;
            let right = bit(&key, d);
            let child = if right { rec.right } else { rec.left };
            let (new_child, new_hash) = insert_below(nodes, child, key, seq, writes)?;
            let other = if right { rec.left } else { rec.right };
            let other_hash = hash_of(nodes, &other)?;
            let lifted_new = lift(new_hash, new_child.path(), new_child.depth(), d + 1);
            let lifted_other = lift(other_hash, other.path(), other.depth(), d + 1);
            if right {
                rec.right = new_child;
                rec.hash = node_hash(&lifted_other, &lifted_new);
            } else {
                rec.left = new_child;
                rec.hash = node_hash(&lifted_new, &lifted_other);
            }
            push(writes, &at, rec);
            Ok((at, rec.hash))
        }
    }
}

fn push(writes: &mut Vec<(u16, Digest, BranchRecord)>, node: &StoredNode, rec: BranchRecord) {
    if let StoredNode::Branch { depth, prefix } = node {
        writes.push((*depth, *prefix, rec));
    }
}

/// The root of a stored map.
pub fn root(nodes: &impl MapNodes) -> Result<Digest> {
    match nodes.top()? {
        None => Ok(empty_hash(DEPTH)),
        Some(t) => Ok(lift(hash_of(nodes, &t)?, t.path(), t.depth(), 0)),
    }
}

/// A proof about `key` from a stored map (membership if it is revoked, non-membership
/// otherwise), reading the O(log n) branch records on its path.
pub fn prove(nodes: &impl MapNodes, key: &Digest) -> Result<RevocationProof> {
    let mut siblings = [[0u8; 32]; DEPTH];
    for (i, s) in siblings.iter_mut().enumerate() {
        *s = empty_hash(DEPTH - 1 - i);
    }
    let mut cur = nodes.top()?;
    let mut status = ProofStatus::Absent;
    // The depth from which `cur` is the topmost stored node of the key's subtree.
    while let Some(node) = cur {
        if let StoredNode::Leaf { key: k2, seq } = node {
            if k2 == *key {
                status = ProofStatus::Present { seq };
                break;
            }
        }
        let d = node.depth();
        if let Some(diff) = first_difference(key, node.path(), d) {
            // The key leaves this node's path at `diff`: the node's subtree is its sibling.
            let h = hash_of(nodes, &node)?;
            siblings[diff] = lift(h, node.path(), d, diff + 1);
            break;
        }
        let StoredNode::Branch { depth, prefix } = node else {
            break; // a leaf equal on all 256 bits was handled above
        };
        let rec = branch_below(nodes, depth, &prefix)?;
        let (next, other) = if bit(key, d) {
            (rec.right, rec.left)
        } else {
            (rec.left, rec.right)
        };
        siblings[d] = lift(hash_of(nodes, &other)?, other.path(), other.depth(), d + 1);
        cur = Some(next);
    }
    Ok(RevocationProof::from_siblings(status, &siblings))
}

/// An in-memory [`MapNodes`]: the table a store would keep, in a `BTreeMap`.
///
/// ```
/// use cairn_core::revocation::{map_key, nodes, MemoryMap, NodeMap, ObjectKind};
/// let mut stored = NodeMap::new();
/// let mut reference = MemoryMap::new();
/// for i in 0..5u8 {
///     let k = map_key(ObjectKind::Token, &[i; 32]);
///     stored.insert(k, u64::from(i))?;
///     reference.insert(k, u64::from(i))?;
/// }
/// assert_eq!(stored.root()?, reference.root());
/// let absent = map_key(ObjectKind::Token, &[9; 32]);
/// assert_eq!(nodes::prove(&stored, &absent)?, reference.prove(&absent));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeMap {
    top: Option<StoredNode>,
    branches: alloc::collections::BTreeMap<(u16, Digest), BranchRecord>,
}

impl NodeMap {
    /// An empty map.
    pub fn new() -> NodeMap {
        NodeMap::default()
    }

    /// Inserts `key` (see [`insert`]) and applies the update.
    pub fn insert(&mut self, key: Digest, seq: u64) -> Result<()> {
        let update = insert(self, key, seq)?;
        self.apply(update);
        Ok(())
    }

    /// Applies the records of an update.
    pub fn apply(&mut self, update: MapUpdate) {
        self.top = Some(update.top);
        for (depth, prefix, rec) in update.branches {
            self.branches.insert((depth, prefix), rec);
        }
    }

    /// The root (see [`root`]).
    pub fn root(&self) -> Result<Digest> {
        root(self)
    }

    /// Number of stored branch records (n − 1 for n ≥ 1 leaves).
    pub fn branch_count(&self) -> usize {
        self.branches.len()
    }
}

impl MapNodes for NodeMap {
    fn top(&self) -> Result<Option<StoredNode>> {
        Ok(self.top)
    }

    fn branch(&self, depth: u16, prefix: &Digest) -> Result<BranchRecord> {
        self.branches
            .get(&(depth, *prefix))
            .copied()
            .ok_or_else(|| {
                Error::malformed(alloc::format!(
                    "revocation map: no branch record at depth {depth}, prefix {}",
                    hex_encode(prefix)
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::super::MemoryMap;
    use super::*;
    use crate::encoding::sha256;

    #[test]
    fn prefixes() {
        let k = [0xffu8; 32];
        assert_eq!(prefix_of(&k, 0), [0; 32]);
        let p = prefix_of(&k, 9);
        assert_eq!((p[0], p[1], p[2]), (0xff, 0x80, 0));
        assert_eq!(prefix_of(&k, 256), k);
    }

    #[test]
    fn matches_the_reference_builder() {
        let mut stored = NodeMap::new();
        let mut reference = MemoryMap::new();
        assert_eq!(stored.root().unwrap(), reference.root());
        let mut keys: Vec<Digest> = (0..60u32).map(|i| sha256(&[&i.to_be_bytes()])).collect();
        // Keys sharing long prefixes too.
        let mut a = [0x33u8; 32];
        keys.push(a);
        a[31] ^= 1;
        keys.push(a);
        a[16] ^= 0x80;
        keys.push(a);
        for (i, k) in keys.iter().enumerate() {
            stored.insert(*k, i as u64).unwrap();
            reference.insert(*k, i as u64).unwrap();
            assert_eq!(
                stored.root().unwrap(),
                reference.root(),
                "after {i} inserts"
            );
        }
        assert_eq!(stored.branch_count(), keys.len() - 1);
        for probe in keys.iter().chain([[0u8; 32], [0xff; 32], a].iter()) {
            assert_eq!(
                prove(&stored, probe).unwrap(),
                reference.prove(probe),
                "proof of {}",
                hex_encode(probe)
            );
        }
        assert_eq!(
            stored.insert(keys[3], 9).unwrap_err().code(),
            ErrorCode::Replayed
        );
    }

    /// Damaged records that point a branch back at itself end a walk with an error, not a
    /// loop or a stack overflow.
    #[test]
    fn a_branch_pointing_at_itself_is_refused() {
        let mut stored = NodeMap::new();
        let keys: Vec<Digest> = (0..8u32).map(|i| sha256(&[&i.to_be_bytes()])).collect();
        for (i, k) in keys.iter().enumerate() {
            stored.insert(*k, i as u64).unwrap();
        }
        for ((depth, prefix), rec) in stored.branches.iter_mut() {
            let itself = StoredNode::Branch {
                depth: *depth,
                prefix: *prefix,
            };
            (rec.left, rec.right) = (itself, itself);
        }
        let mut near = keys[0];
        near[31] ^= 1;
        for probe in [keys[0], near] {
            let e = prove(&stored, &probe).unwrap_err();
            assert!(e.detail().contains("no deeper than itself"), "{e}");
            let e = insert(&stored, probe, 9).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Malformed, "{e}");
        }
    }

    #[test]
    fn updates_touch_log_n_records() {
        let mut stored = NodeMap::new();
        let mut most = 0;
        for i in 0..512u32 {
            let update = insert(&stored, sha256(&[&i.to_be_bytes()]), 1).unwrap();
            most = most.max(update.branches.len());
            stored.apply(update);
        }
        // log2(512) = 9; random keys leave some slack.
        assert!(most <= 24, "an insert wrote {most} records");
    }
}
