//! RFC 6962 / RFC 9162 Merkle hashing, proofs built from stored subtree hashes, and proof
//! verification exactly as RFC 9162 §2.1.3.2 and §2.1.4.2 describe it.
//!
//! Hashing (RFC 6962 §2.1): a leaf hashes as SHA-256(0x00 ‖ leaf), an interior node as
//! SHA-256(0x01 ‖ left ‖ right), the empty tree as SHA-256(""). With `k` the largest power of
//! two strictly below `n`, `MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n]))`: the tree is
//! left-heavy and never padded.
//!
//! Storage model: a log keeps the hash of every *complete* subtree, keyed by `(level, index)`
//! (the subtree over leaves `[index·2^level, (index+1)·2^level)`), as Go's `sumdb/tlog` does
//! with its stored hashes. Appending leaf `n` adds the leaf hash plus one hash per subtree the
//! new leaf completes ([`hashes_to_store`]: two on average), and every root or proof for any
//! historical size is assembled from O(log n) stored hashes ([`tree_root`],
//! [`prove_inclusion`], [`prove_consistency`]). A store implements [`TreeHashes`];
//! [`MemoryTree`] is the in-memory one.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::encoding::{sha256, Digest};
use crate::error::{Error, ErrorCode, Result};

/// Root of the empty tree: SHA-256 of the empty string
/// (`e3b0c442…b855`, base64 `47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=`).
pub const EMPTY_ROOT: Digest = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Longest proof accepted: a tree of at most 2^64 leaves has at most 64 levels.
pub const MAX_PROOF_LEN: usize = 64;

/// Largest postcard encoding of an [`InclusionProof`] or [`ConsistencyProof`]: two 10-byte
/// varints, a 1-byte length and 64 hashes.
pub const MAX_PROOF_BYTES: usize = 10 + 10 + 1 + MAX_PROOF_LEN * 32;

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ leaf).
///
/// ```
/// use cairn_core::encoding::b64_encode;
/// use cairn_core::merkle::leaf_hash;
/// assert_eq!(b64_encode(&leaf_hash(b"leaf-0")), "MF31n5WQw8msY9KydDw4jjeSRJB4zr9/s9vmRxZDsrc=");
/// ```
pub fn leaf_hash(leaf: &[u8]) -> Digest {
    sha256(&[&[0x00], leaf])
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
///
/// ```
/// use cairn_core::merkle::{leaf_hash, node_hash, root_of};
/// let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
/// assert_eq!(node_hash(&a, &b), root_of(&[a, b]));
/// ```
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    sha256(&[&[0x01], left, right])
}

/// Merkle tree hash (root) of a list of leaf hashes; [`EMPTY_ROOT`] for none.
///
/// ```
/// use cairn_core::encoding::b64_encode;
/// use cairn_core::merkle::{leaf_hash, root_of, EMPTY_ROOT};
/// let leaves: Vec<_> = (0..10).map(|i| leaf_hash(format!("leaf-{i}").as_bytes())).collect();
/// assert_eq!(b64_encode(&root_of(&leaves)), "tFkYYz7pMaKdJBl0CVRwgcMV0m7LP7BBe4lB+Fm44H4=");
/// assert_eq!(root_of(&[]), EMPTY_ROOT);
/// ```
pub fn root_of(leaf_hashes: &[Digest]) -> Digest {
    // The stack holds the roots of the complete subtrees of the prefix, largest first, with
    // their sizes: exactly the stored-hash decomposition, folded right to left at the end.
    let mut stack: Vec<(u64, Digest)> = Vec::new();
    for h in leaf_hashes {
        let mut cur = (1u64, *h);
        while let Some(&(size, left)) = stack.last() {
            if size != cur.0 {
                break;
            }
            stack.pop();
            cur = (size * 2, node_hash(&left, &cur.1));
        }
        stack.push(cur);
    }
    fold_right(stack.iter().map(|(_, h)| *h))
}

/// Folds complete-subtree hashes (leftmost, largest first) into the root of their union.
fn fold_right<I: DoubleEndedIterator<Item = Digest>>(parts: I) -> Digest {
    let mut acc: Option<Digest> = None;
    for h in parts.rev() {
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
    }
    acc.unwrap_or(EMPTY_ROOT)
}

/// Read access to a log's stored subtree hashes: the interface a store implements so that
/// roots and proofs cost O(log n) reads.
///
/// `subtree_hash(level, index)` returns the hash of the complete subtree over leaves
/// `[index·2^level, (index+1)·2^level)`, for every such subtree that lies within
/// `tree_size()`. Level 0 holds the leaf hashes. The functions of this module only ever ask
/// for subtrees complete at the size they are given, which is at most `tree_size()`;
/// implementations should return an error for any other request.
pub trait TreeHashes {
    /// Number of leaves currently in the tree.
    fn tree_size(&self) -> u64;
    /// Hash of the complete subtree at `(level, index)`.
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Digest>;
}

impl<T: TreeHashes + ?Sized> TreeHashes for &T {
    fn tree_size(&self) -> u64 {
        (**self).tree_size()
    }
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Digest> {
        (**self).subtree_hash(level, index)
    }
}

/// One record to persist: the hash of the complete subtree at `(level, index)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredHash {
    /// Height of the subtree (0 = a leaf).
    pub level: u8,
    /// Position of the subtree among those of its level.
    pub index: u64,
    /// Its Merkle tree hash.
    pub hash: Digest,
}

/// The records to write when appending a leaf with hash `leaf_hash` as leaf number
/// `store.tree_size()`: the leaf itself at level 0, then one record for each subtree the
/// new leaf completes (what Go's `tlog.StoredHashes` returns; two on average). Reads one
/// stored left sibling per completed subtree.
///
/// ```
/// use cairn_core::merkle::{hashes_to_store, leaf_hash, MemoryTree};
/// let mut tree = MemoryTree::new();
/// for i in 0..3u8 { tree.append(&[i])?; }
/// // Leaf 3 completes the subtrees [2,4) and [0,4).
/// let recs = hashes_to_store(&tree, leaf_hash(&[3]))?;
/// let keys: Vec<_> = recs.iter().map(|r| (r.level, r.index)).collect();
/// assert_eq!(keys, [(0, 3), (1, 1), (2, 0)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn hashes_to_store(store: &impl TreeHashes, leaf_hash: Digest) -> Result<Vec<StoredHash>> {
    let n = store.tree_size();
    if n == u64::MAX {
        return Err(Error::new(ErrorCode::TooLarge, "the tree is full"));
    }
    let mut out = Vec::with_capacity(2 + n.trailing_ones() as usize);
    out.push(StoredHash {
        level: 0,
        index: n,
        hash: leaf_hash,
    });
    let mut h = leaf_hash;
    let mut level: u8 = 0;
    // Bit `level` of n set means the new node is a right child whose left sibling is
    // already stored, so their parent becomes complete.
    while level < 64 && (n >> level) & 1 == 1 {
        let left = store.subtree_hash(level, (n >> level) - 1)?;
        h = node_hash(&left, &h);
        level += 1;
        out.push(StoredHash {
            level,
            index: n >> level,
            hash: h,
        });
    }
    Ok(out)
}

fn check_size(store: &impl TreeHashes, size: u64) -> Result<()> {
    if size > store.tree_size() {
        return Err(Error::malformed(alloc::format!(
            "tree size {size} exceeds the stored tree's size {}",
            store.tree_size()
        )));
    }
    Ok(())
}

/// Largest power of two strictly less than `n` (`n` ≥ 2).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[lo:hi]) for a non-empty range whose start is a multiple of the smallest power of two
/// ≥ its length — true of every range the RFC 9162 recursion visits. Such a range is a run of
/// complete subtrees of strictly decreasing size, one per set bit of its length, so it costs
/// one read per set bit.
fn range_hash(store: &impl TreeHashes, lo: u64, hi: u64) -> Result<Digest> {
    let mut parts: Vec<Digest> = Vec::with_capacity((hi - lo).count_ones() as usize);
    let mut start = lo;
    while start < hi {
        let level = 63 - (hi - start).leading_zeros();
        // level ≤ 63, so the cast is lossless.
        parts.push(store.subtree_hash(level as u8, start >> level)?);
        start += 1u64 << level;
    }
    Ok(fold_right(parts.into_iter()))
}

/// Root of the stored tree at any `size` ≤ `store.tree_size()`, from at most 64 reads.
///
/// ```
/// use cairn_core::merkle::{leaf_hash, root_of, tree_root, MemoryTree};
/// let mut tree = MemoryTree::new();
/// let mut leaves = Vec::new();
/// for i in 0..7u8 {
///     tree.append(&[i])?;
///     leaves.push(leaf_hash(&[i]));
/// }
/// assert_eq!(tree_root(&tree, 5)?, root_of(&leaves[..5]));
/// assert!(tree_root(&tree, 8).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tree_root(store: &impl TreeHashes, size: u64) -> Result<Digest> {
    check_size(store, size)?;
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    range_hash(store, 0, size)
}

/// RFC 9162 §2.1.3.1 inclusion proof (audit path) of leaf `index` in the tree of `size`
/// leaves, ordered from the leaf's sibling up to the root's child. Uses O(log n) reads.
///
/// ```
/// use cairn_core::merkle::{leaf_hash, prove_inclusion, tree_root, verify_inclusion, MemoryTree};
/// let mut tree = MemoryTree::new();
/// for i in 0..10u8 { tree.append(&[i])?; }
/// let proof = prove_inclusion(&tree, 5, 8)?;
/// let root = tree_root(&tree, 8)?;
/// verify_inclusion(&leaf_hash(&[5]), 5, 8, &proof, &root)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn prove_inclusion(store: &impl TreeHashes, index: u64, size: u64) -> Result<Vec<Digest>> {
    check_size(store, size)?;
    if index >= size {
        return Err(Error::malformed(alloc::format!(
            "leaf index {index} is not below tree size {size}"
        )));
    }
    // PATH(m, D[lo:hi]) descends towards the leaf; each step contributes the hash of the
    // other half, which ends up after everything found deeper.
    let mut top_down = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            top_down.push(range_hash(store, lo + k, hi)?);
            hi = lo + k;
        } else {
            top_down.push(range_hash(store, lo, lo + k)?);
            lo += k;
        }
    }
    top_down.reverse();
    Ok(top_down)
}

/// RFC 9162 §2.1.4.1 consistency proof from the tree of `old_size` leaves to the tree of
/// `new_size` leaves (1 ≤ old_size ≤ new_size ≤ `store.tree_size()`), ordered bottom-up.
/// Empty when the sizes are equal. Uses O(log n) reads.
///
/// ```
/// use cairn_core::merkle::{prove_consistency, tree_root, verify_consistency, MemoryTree};
/// let mut tree = MemoryTree::new();
/// for i in 0..10u8 { tree.append(&[i])?; }
/// let proof = prove_consistency(&tree, 3, 10)?;
/// assert_eq!(proof.len(), 5);
/// let (r3, r10) = (tree_root(&tree, 3)?, tree_root(&tree, 10)?);
/// verify_consistency(3, 10, &r3, &r10, &proof)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn prove_consistency(
    store: &impl TreeHashes,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Digest>> {
    check_size(store, new_size)?;
    check_consistency_sizes(old_size, new_size)?;
    // SUBPROOF(m, D[lo:hi], b) walks down the new tree until the old tree's right edge is a
    // complete subtree boundary; each step contributes the hash of the half not descended into.
    let mut top_down = Vec::new();
    let (mut lo, mut hi) = (0u64, new_size);
    let mut whole_old_subtree = true; // the `b` flag of RFC 9162
    while old_size - lo != hi - lo {
        let k = split_point(hi - lo);
        if old_size - lo <= k {
            top_down.push(range_hash(store, lo + k, hi)?);
            hi = lo + k;
        } else {
            top_down.push(range_hash(store, lo, lo + k)?);
            lo += k;
            whole_old_subtree = false;
        }
    }
    if !whole_old_subtree {
        top_down.push(range_hash(store, lo, hi)?);
    }
    top_down.reverse();
    Ok(top_down)
}

fn check_consistency_sizes(old_size: u64, new_size: u64) -> Result<()> {
    if old_size == 0 {
        return Err(Error::malformed(
            "consistency proofs from the empty tree are not defined",
        ));
    }
    if old_size > new_size {
        return Err(Error::malformed(alloc::format!(
            "old tree size {old_size} exceeds new tree size {new_size}"
        )));
    }
    Ok(())
}

fn check_proof_len(len: usize) -> Result<()> {
    if len > MAX_PROOF_LEN {
        return Err(Error::malformed(alloc::format!(
            "proof has {len} hashes; at most {MAX_PROOF_LEN} are possible"
        )));
    }
    Ok(())
}

fn proof_invalid(detail: &str) -> Error {
    Error::new(ErrorCode::ProofInvalid, detail)
}

/// Verifies an inclusion proof exactly as RFC 9162 §2.1.3.2 specifies.
///
/// Errors: `malformed` when `index >= tree_size` or the proof has more than 64 hashes;
/// `proof_invalid` when the proof does not lead from the leaf to `root`.
///
/// A proof pins the tree size only through its shape (one proof can verify under several
/// sizes); take `tree_size` and `root` together from a verified checkpoint.
///
/// ```
/// use cairn_core::merkle::{leaf_hash, root_of, verify_inclusion};
/// let l: Vec<_> = (0..3u8).map(|i| leaf_hash(&[i])).collect();
/// let root = root_of(&l);
/// verify_inclusion(&l[2], 2, 3, &[root_of(&l[..2])], &root)?;
/// assert!(verify_inclusion(&l[1], 2, 3, &[root_of(&l[..2])], &root).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_inclusion(
    leaf_hash: &Digest,
    index: u64,
    tree_size: u64,
    proof: &[Digest],
    root: &Digest,
) -> Result<()> {
    if index >= tree_size {
        return Err(Error::malformed(alloc::format!(
            "leaf index {index} is not below tree size {tree_size}"
        )));
    }
    check_proof_len(proof.len())?;
    let (mut fnode, mut snode) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(proof_invalid("inclusion proof is longer than the path"));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(proof_invalid("inclusion proof is shorter than the path"));
    }
    if r != *root {
        return Err(proof_invalid("inclusion proof does not lead to the root"));
    }
    Ok(())
}

/// Verifies a consistency proof exactly as RFC 9162 §2.1.4.2 specifies.
///
/// Errors: `malformed` when `old_size` is 0 (no proof from the empty tree is defined), when
/// `old_size > new_size` or the proof has more than 64 hashes; `proof_invalid` when the proof
/// does not connect the two roots (for equal sizes: a non-empty proof or different roots).
///
/// ```
/// use cairn_core::merkle::{leaf_hash, root_of, verify_consistency};
/// let l: Vec<_> = (0..4u8).map(|i| leaf_hash(&[i])).collect();
/// // From 2 to 4 leaves the proof is the hash of the new right half.
/// verify_consistency(2, 4, &root_of(&l[..2]), &root_of(&l), &[root_of(&l[2..])])?;
/// assert!(verify_consistency(0, 4, &root_of(&[]), &root_of(&l), &[]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> Result<()> {
    check_consistency_sizes(old_size, new_size)?;
    check_proof_len(proof.len())?;
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(proof_invalid(
                "consistency proof between equal sizes must be empty",
            ));
        }
        if old_root != new_root {
            return Err(proof_invalid("equal tree sizes with different roots"));
        }
        return Ok(());
    }
    // Step 1.
    let (first, rest) = match proof.split_first() {
        Some(x) => x,
        None => return Err(proof_invalid("consistency proof is empty")),
    };
    // Step 2: when old_size is a power of two the old root is the proof's implicit first hash.
    let (seed, path): (&Digest, &[Digest]) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    // Steps 3 and 4.
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (*seed, *seed);
    // Step 6.
    for c in path {
        if snode == 0 {
            return Err(proof_invalid("consistency proof is longer than the path"));
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 7.
    if snode != 0 {
        return Err(proof_invalid("consistency proof is shorter than the path"));
    }
    if fr != *old_root {
        return Err(proof_invalid(
            "consistency proof does not lead to the old root",
        ));
    }
    if sr != *new_root {
        return Err(proof_invalid(
            "consistency proof does not lead to the new root",
        ));
    }
    Ok(())
}

/// An in-memory tree holding every complete subtree hash: for tests and small users.
///
/// ```
/// use cairn_core::merkle::{leaf_hash, verify_inclusion, MemoryTree};
/// let mut tree = MemoryTree::new();
/// for i in 0..6u8 { tree.append(&[i])?; }
/// let proof = tree.prove_inclusion(5, 6)?;
/// verify_inclusion(&leaf_hash(&[5]), 5, 6, &proof, &tree.root())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[l][i]` is the hash of the complete subtree `(l, i)`.
    levels: Vec<Vec<Digest>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        MemoryTree::default()
    }

    /// Appends a leaf (hashing it with [`leaf_hash`]) and returns its index.
    pub fn append(&mut self, leaf: &[u8]) -> Result<u64> {
        self.append_leaf_hash(leaf_hash(leaf))
    }

    /// Appends an already hashed leaf and returns its index.
    pub fn append_leaf_hash(&mut self, hash: Digest) -> Result<u64> {
        let index = self.tree_size();
        for rec in hashes_to_store(self, hash)? {
            let level = usize::from(rec.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            if let Some(row) = self.levels.get_mut(level) {
                row.push(rec.hash);
            }
        }
        Ok(index)
    }

    /// The current root.
    pub fn root(&self) -> Digest {
        // invariant: the current size is always within the stored tree.
        tree_root(self, self.tree_size()).unwrap_or(EMPTY_ROOT)
    }

    /// The root at an earlier (or the current) size.
    pub fn root_at(&self, size: u64) -> Result<Digest> {
        tree_root(self, size)
    }

    /// Hash of leaf `index`.
    pub fn leaf_hash(&self, index: u64) -> Result<Digest> {
        self.subtree_hash(0, index)
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn prove_inclusion(&self, index: u64, size: u64) -> Result<Vec<Digest>> {
        prove_inclusion(self, index, size)
    }

    /// Consistency proof from `old_size` to `new_size`.
    pub fn prove_consistency(&self, old_size: u64, new_size: u64) -> Result<Vec<Digest>> {
        prove_consistency(self, old_size, new_size)
    }
}

impl TreeHashes for MemoryTree {
    fn tree_size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    fn subtree_hash(&self, level: u8, index: u64) -> Result<Digest> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(level))?.get(i))
            .copied()
            .ok_or_else(|| {
                Error::malformed(alloc::format!(
                    "no complete subtree at level {level}, index {index}"
                ))
            })
    }
}

/// An inclusion proof as carried in bundles: the leaf's index, the tree size the proof is
/// for, and the audit path (bottom-up). Postcard: varint, varint, then a length-prefixed run
/// of 32-byte hashes; JSON: hashes as lowercase hex. At most 64 hashes decode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Index of the leaf (0-based).
    pub leaf_index: u64,
    /// Size of the tree whose root the proof leads to.
    pub tree_size: u64,
    /// Sibling hashes, leaf end first.
    #[serde(with = "proof_hashes")]
    pub hashes: Vec<Digest>,
}

impl InclusionProof {
    /// Verifies the proof for `leaf_hash` against `root` (see [`verify_inclusion`]).
    ///
    /// ```
    /// use cairn_core::merkle::{leaf_hash, InclusionProof, MemoryTree};
    /// let mut tree = MemoryTree::new();
    /// for i in 0..5u8 { tree.append(&[i])?; }
    /// let p = InclusionProof { leaf_index: 1, tree_size: 5, hashes: tree.prove_inclusion(1, 5)? };
    /// let p = InclusionProof::from_bytes(&p.to_bytes())?;
    /// p.verify(&leaf_hash(&[1]), &tree.root())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, leaf_hash: &Digest, root: &Digest) -> Result<()> {
        verify_inclusion(
            leaf_hash,
            self.leaf_index,
            self.tree_size,
            &self.hashes,
            root,
        )
    }

    /// Postcard encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::encoding::to_postcard(self)
    }

    /// Decodes the postcard encoding (at most [`MAX_PROOF_BYTES`], no trailing bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        crate::encoding::from_postcard(bytes, MAX_PROOF_BYTES, "inclusion proof")
    }
}

/// A consistency proof as carried in bundles. Encoded like [`InclusionProof`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// Proof hashes, bottom-up.
    #[serde(with = "proof_hashes")]
    pub hashes: Vec<Digest>,
}

impl ConsistencyProof {
    /// Verifies the proof between the two roots (see [`verify_consistency`]).
    ///
    /// ```
    /// use cairn_core::merkle::{ConsistencyProof, MemoryTree};
    /// let mut tree = MemoryTree::new();
    /// for i in 0..5u8 { tree.append(&[i])?; }
    /// let p = ConsistencyProof { old_size: 3, new_size: 5, hashes: tree.prove_consistency(3, 5)? };
    /// p.verify(&tree.root_at(3)?, &tree.root())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, old_root: &Digest, new_root: &Digest) -> Result<()> {
        verify_consistency(
            self.old_size,
            self.new_size,
            old_root,
            new_root,
            &self.hashes,
        )
    }

    /// Postcard encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::encoding::to_postcard(self)
    }

    /// Decodes the postcard encoding (at most [`MAX_PROOF_BYTES`], no trailing bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        crate::encoding::from_postcard(bytes, MAX_PROOF_BYTES, "consistency proof")
    }
}

/// Serde for proof hash lists: hex strings in human-readable formats, 32-byte arrays
/// otherwise; decoding stops with an error past [`MAX_PROOF_LEN`] hashes, so a hostile length
/// never drives an allocation.
mod proof_hashes {
    use super::*;
    use serde::ser::SerializeSeq;

    struct Hex<'a>(&'a Digest);

    impl Serialize for Hex<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
            crate::encoding::hex32::serialize(self.0, s)
        }
    }

    struct HexOwned(Digest);

    impl<'de> Deserialize<'de> for HexOwned {
        fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
            crate::encoding::hex32::deserialize(d).map(HexOwned)
        }
    }

    pub fn serialize<S: Serializer>(v: &[Digest], s: S) -> core::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for d in v {
            seq.serialize_element(&Hex(d))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> core::result::Result<Vec<Digest>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<Digest>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of at most 64 hashes")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> core::result::Result<Vec<Digest>, A::Error> {
                let mut out = Vec::new();
                while let Some(HexOwned(h)) = seq.next_element::<HexOwned>()? {
                    if out.len() == MAX_PROOF_LEN {
                        return Err(serde::de::Error::custom(String::from(
                            "proof has more than 64 hashes",
                        )));
                    }
                    out.push(h);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, sha256(&[]));
    }

    #[test]
    fn split_point_is_largest_power_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn memory_tree_tracks_root_of() {
        let mut t = MemoryTree::new();
        let mut leaves = Vec::new();
        assert_eq!(t.root(), EMPTY_ROOT);
        for i in 0..40u32 {
            let h = leaf_hash(&i.to_be_bytes());
            leaves.push(h);
            assert_eq!(t.append_leaf_hash(h).unwrap(), u64::from(i));
            assert_eq!(t.root(), root_of(&leaves));
        }
        assert!(t.subtree_hash(0, 40).is_err());
        assert!(t.subtree_hash(3, 5).is_err());
        assert!(t.subtree_hash(200, 0).is_err());
    }

    #[test]
    fn oversized_inputs_are_malformed() {
        let d = [0u8; 32];
        let long = alloc::vec![d; 65];
        assert_eq!(
            verify_inclusion(&d, 0, u64::MAX, &long, &d)
                .unwrap_err()
                .code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            verify_consistency(1, u64::MAX, &d, &d, &long)
                .unwrap_err()
                .code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            verify_inclusion(&d, 5, 5, &[], &d).unwrap_err().code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            verify_consistency(6, 5, &d, &d, &[]).unwrap_err().code(),
            ErrorCode::Malformed
        );
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        let d = [7u8; 32];
        let proof = alloc::vec![d; 64];
        let e = verify_inclusion(&d, u64::MAX - 1, u64::MAX, &proof, &d).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ProofInvalid);
        let e = verify_consistency(u64::MAX - 1, u64::MAX, &d, &d, &proof).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ProofInvalid);
        let e = verify_consistency(1 << 63, u64::MAX, &d, &d, &proof).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ProofInvalid);
    }

    #[test]
    fn proof_wire_limits() {
        let p = InclusionProof {
            leaf_index: 1,
            tree_size: 2,
            hashes: alloc::vec![[1u8; 32]; 65],
        };
        let bytes = p.to_bytes();
        assert_eq!(
            InclusionProof::from_bytes(&bytes).unwrap_err().code(),
            ErrorCode::TooLarge
        );
        let p = ConsistencyProof {
            old_size: 1,
            new_size: 2,
            hashes: alloc::vec![[1u8; 32]; 64],
        };
        let bytes = p.to_bytes();
        assert!(bytes.len() <= MAX_PROOF_BYTES);
        assert_eq!(ConsistencyProof::from_bytes(&bytes).unwrap(), p);
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(ConsistencyProof::from_bytes(&extra).is_err());
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("0101010101"));
        let back: ConsistencyProof = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
