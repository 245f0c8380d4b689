//! Merkle tree: known answers, proofs through stored hashes against the naive RFC 9162
//! recursion for every tree size up to 300, and every proof mutation rejected.

use std::cell::Cell;
use std::collections::HashMap;

use cairn_core::encoding::{b64_encode, Digest};
use cairn_core::merkle::*;
use cairn_core::{ErrorCode, Result};
use proptest::prelude::*;

const MAX: u64 = 300;

fn leaf(i: u64) -> Digest {
    leaf_hash(format!("leaf-{i}").as_bytes())
}

fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(format!("leaf-{i}").as_bytes()).unwrap();
    }
    t
}

/// The RFC 9162 §2.1 definitions, written as recursively as the RFC states them, over a
/// memoised MTH so that all sizes up to 300 stay fast.
struct Naive {
    leaves: Vec<Digest>,
    mth: HashMap<(u64, u64), Digest>,
}

impl Naive {
    fn new(n: u64) -> Self {
        Naive {
            leaves: (0..n).map(leaf).collect(),
            mth: HashMap::new(),
        }
    }

    fn k(n: u64) -> u64 {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn mth(&mut self, lo: u64, hi: u64) -> Digest {
        if let Some(h) = self.mth.get(&(lo, hi)) {
            return *h;
        }
        let n = hi - lo;
        let h = match n {
            0 => EMPTY_ROOT,
            1 => self.leaves[lo as usize],
            _ => {
                let k = Self::k(n);
                let l = self.mth(lo, lo + k);
                let r = self.mth(lo + k, hi);
                node_hash(&l, &r)
            }
        };
        self.mth.insert((lo, hi), h);
        h
    }

    fn path(&mut self, m: u64, lo: u64, hi: u64) -> Vec<Digest> {
        let n = hi - lo;
        if n == 1 {
            return vec![];
        }
        let k = Self::k(n);
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    fn subproof(&mut self, m: u64, lo: u64, hi: u64, b: bool) -> Vec<Digest> {
        let n = hi - lo;
        if m == n {
            return if b { vec![] } else { vec![self.mth(lo, hi)] };
        }
        let k = Self::k(n);
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(self.mth(lo, lo + k));
            p
        }
    }
}

/// Counts reads so the O(log n) claim is checked, not assumed.
struct Counting<'a> {
    inner: &'a MemoryTree,
    reads: Cell<u64>,
}

impl TreeHashes for Counting<'_> {
    fn tree_size(&self) -> u64 {
        self.inner.tree_size()
    }
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Digest> {
        self.reads.set(self.reads.get() + 1);
        self.inner.subtree_hash(level, index)
    }
}

fn bits(n: u64) -> u64 {
    u64::from(64 - n.leading_zeros())
}

/// The direction sequence the RFC 9162 inclusion verifier follows for a proof of `len`
/// hashes (true: the proof hash is the left child), or None if the shape cannot fit.
fn inclusion_shape(index: u64, size: u64, len: usize) -> Option<Vec<bool>> {
    if index >= size {
        return None;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut out = vec![];
    for _ in 0..len {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            out.push(true);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            out.push(false);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(out)
}

/// The operation sequence of the RFC 9162 consistency verifier (whether the old root is
/// prepended, then per hash whether both roots or only the new one absorb it).
fn consistency_shape(old: u64, new: u64, len: usize) -> Option<(bool, Vec<bool>)> {
    if old == 0 || old > new {
        return None;
    }
    if old == new {
        return (len == 0).then(|| (false, vec![]));
    }
    let prepend = old.is_power_of_two();
    let total = len + usize::from(prepend);
    if len == 0 || total == 0 {
        return None;
    }
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut ops = vec![];
    for _ in 1..total {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            ops.push(true);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            ops.push(false);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some((prepend, ops))
}

fn flip(d: &Digest, bit: usize) -> Digest {
    let mut d = *d;
    d[bit / 8 % 32] ^= 1 << (bit % 8);
    d
}

#[test]
fn known_answer_roots() {
    let t = tree(10);
    for (size, want) in [
        (1, "MF31n5WQw8msY9KydDw4jjeSRJB4zr9/s9vmRxZDsrc="),
        (2, "YKU+7Q3oepDI5ZQnxZxGJTwzp2oJUCpRgBMAknt+a9w="),
        (3, "z3Y6BByBzu8VeKYIP3XGG+8uABTyo+aDqX/Pylvn8Zo="),
        (4, "vdHF/1WxnLaw58dhv5psyqJ/u/wHt08fq7bpEaC9KrM="),
        (6, "FgzxphboeS+QeKlmXLBlINlaM/Rn0IJvIxAhnTE4PXM="),
        (9, "E3TTpey+9M18EJ5dASeVX07wFHVkltcKD5n2WqCsijA="),
        (10, "tFkYYz7pMaKdJBl0CVRwgcMV0m7LP7BBe4lB+Fm44H4="),
    ] {
        assert_eq!(b64_encode(&t.root_at(size).unwrap()), want, "size {size}");
        let leaves: Vec<_> = (0..size).map(leaf).collect();
        assert_eq!(b64_encode(&root_of(&leaves)), want, "root_of size {size}");
    }
    assert_eq!(
        b64_encode(&t.root_at(0).unwrap()),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    assert_eq!(t.leaf_hash(0).unwrap(), t.root_at(1).unwrap());
}

#[test]
fn known_proof_lengths() {
    let t = tree(10);
    for (index, size, len) in [(0, 10, 4), (5, 10, 4), (9, 10, 2), (5, 6, 2), (0, 1, 0)] {
        assert_eq!(
            t.prove_inclusion(index, size).unwrap().len(),
            len,
            "{index} of {size}"
        );
    }
    for (old, len) in [(1, 4), (2, 3), (3, 5), (4, 2), (5, 5), (9, 3), (10, 0)] {
        assert_eq!(
            t.prove_consistency(old, 10).unwrap().len(),
            len,
            "{old} -> 10"
        );
    }
}

#[test]
fn stored_hashes_average_two_per_leaf() {
    let mut t = MemoryTree::new();
    let mut written = 0;
    for i in 0..1024u64 {
        let recs = hashes_to_store(&t, leaf(i)).unwrap();
        assert_eq!(
            recs[0],
            StoredHash {
                level: 0,
                index: i,
                hash: leaf(i)
            }
        );
        for r in &recs {
            // Each record is a subtree complete once leaf i is in.
            assert!((r.index + 1) << r.level == i + 1 || r.level == 0);
        }
        written += recs.len();
        t.append_leaf_hash(leaf(i)).unwrap();
    }
    assert_eq!(written, 2047); // 2n - 1 complete subtrees in a tree of 1024 leaves
}

#[test]
fn every_inclusion_proof_up_to_300() {
    let full = tree(MAX);
    let mut naive = Naive::new(MAX);
    for size in 1..=MAX {
        let root = full.root_at(size).unwrap();
        assert_eq!(root, naive.mth(0, size));
        for index in 0..size {
            let counting = Counting {
                inner: &full,
                reads: Cell::new(0),
            };
            let proof = prove_inclusion(&counting, index, size).unwrap();
            assert!(
                counting.reads.get() <= 2 * bits(size),
                "reads for {index}/{size}"
            );
            assert_eq!(proof, naive.path(index, 0, size), "{index} of {size}");
            let lh = leaf(index);
            verify_inclusion(&lh, index, size, &proof, &root).unwrap();
            if mutate(index, size) {
                check_inclusion_mutations(&lh, index, size, &proof, &root);
            }
        }
    }
}

/// Names a case in failure messages without formatting it on the happy path.
struct Ctx(u64, u64, &'static str);

impl std::fmt::Display for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.0, self.2, self.1)
    }
}

fn expect_code(r: Result<()>, code: ErrorCode, what: &dyn std::fmt::Display) {
    match r {
        Ok(()) => panic!("{what}: accepted"),
        Err(e) => assert_eq!(e.code(), code, "{what}: {e}"),
    }
}

/// Whether to run the mutation battery on position `i` of a tree of `n` leaves: every
/// position up to 64 leaves, then both ends, the middle, both sides of every power of two
/// and a rotating pick, so every size is covered while debug builds stay quick.
fn mutate(i: u64, n: u64) -> bool {
    n <= 64
        || i < 2
        || i + 2 >= n
        || i == n / 2
        || (i + 1).is_power_of_two()
        || i.is_power_of_two()
        || i % 61 == n % 61
}

/// Which proof positions to mutate: all of them for small trees, and for larger ones a
/// rotating pick plus both ends, so every size is still covered at a modest cost.
fn positions(len: usize, salt: u64) -> Vec<usize> {
    if len <= 4 {
        return (0..len).collect();
    }
    let mut v = vec![0, len - 1, (salt as usize) % len];
    v.dedup();
    v
}

fn check_inclusion_mutations(lh: &Digest, index: u64, size: u64, proof: &[Digest], root: &Digest) {
    let ctx = Ctx(index, size, "of");
    let bad = ErrorCode::ProofInvalid;
    for i in positions(proof.len(), index) {
        let mut p = proof.to_vec();
        p[i] = flip(&p[i], i * 7 + index as usize);
        expect_code(verify_inclusion(lh, index, size, &p, root), bad, &ctx);
        let mut p = proof.to_vec();
        p.remove(i);
        expect_code(verify_inclusion(lh, index, size, &p, root), bad, &ctx);
    }
    for at in [0, proof.len()] {
        let mut p = proof.to_vec();
        p.insert(at, *root);
        expect_code(verify_inclusion(lh, index, size, &p, root), bad, &ctx);
    }
    expect_code(
        verify_inclusion(&flip(lh, 3), index, size, proof, root),
        bad,
        &ctx,
    );
    expect_code(
        verify_inclusion(lh, index, size, proof, &flip(root, 200)),
        bad,
        &ctx,
    );
    // A different index never follows the same path.
    if index + 1 < size {
        expect_code(
            verify_inclusion(lh, index + 1, size, proof, root),
            bad,
            &ctx,
        );
    } else {
        expect_code(
            verify_inclusion(lh, index + 1, size, proof, root),
            ErrorCode::Malformed,
            &ctx,
        );
    }
    if index > 0 {
        expect_code(
            verify_inclusion(lh, index - 1, size, proof, root),
            bad,
            &ctx,
        );
    }
    // A size change alone fails exactly when it changes the proof's shape.
    let shape = inclusion_shape(index, size, proof.len());
    assert!(shape.is_some());
    for other in [size - 1, size + 1, size * 2, size.next_power_of_two()] {
        let r = verify_inclusion(lh, index, other, proof, root);
        if index >= other {
            expect_code(r, ErrorCode::Malformed, &ctx);
        } else if inclusion_shape(index, other, proof.len()) == shape {
            r.unwrap_or_else(|e| panic!("{ctx} as size {other}: same shape, {e}"));
        } else {
            expect_code(r, bad, &format!("{ctx} as size {other}"));
        }
    }
}

#[test]
fn every_consistency_proof_up_to_300() {
    let full = tree(MAX);
    let mut naive = Naive::new(MAX);
    let roots: Vec<Digest> = (0..=MAX).map(|n| full.root_at(n).unwrap()).collect();
    for new in 1..=MAX {
        for old in 1..=new {
            let counting = Counting {
                inner: &full,
                reads: Cell::new(0),
            };
            let proof = prove_consistency(&counting, old, new).unwrap();
            assert!(
                counting.reads.get() <= 3 * bits(new),
                "reads for {old}->{new}"
            );
            assert_eq!(proof, naive.subproof(old, 0, new, true), "{old} -> {new}");
            let (r1, r2) = (&roots[old as usize], &roots[new as usize]);
            verify_consistency(old, new, r1, r2, &proof).unwrap();
            if mutate(old - 1, new) {
                check_consistency_mutations(old, new, r1, r2, &proof, &roots);
            }
        }
    }
}

fn check_consistency_mutations(
    old: u64,
    new: u64,
    r1: &Digest,
    r2: &Digest,
    proof: &[Digest],
    roots: &[Digest],
) {
    let ctx = Ctx(old, new, "->");
    let bad = ErrorCode::ProofInvalid;
    for i in positions(proof.len(), old) {
        let mut p = proof.to_vec();
        p[i] = flip(&p[i], i * 5 + old as usize);
        expect_code(verify_consistency(old, new, r1, r2, &p), bad, &ctx);
        let mut p = proof.to_vec();
        p.remove(i);
        expect_code(verify_consistency(old, new, r1, r2, &p), bad, &ctx);
    }
    for at in [0, proof.len()] {
        let mut p = proof.to_vec();
        p.insert(at, *r1);
        expect_code(verify_consistency(old, new, r1, r2, &p), bad, &ctx);
    }
    expect_code(
        verify_consistency(old, new, &flip(r1, 9), r2, proof),
        bad,
        &ctx,
    );
    expect_code(
        verify_consistency(old, new, r1, &flip(r2, 9), proof),
        bad,
        &ctx,
    );
    // Another tree's genuine roots with this proof.
    if old > 1 {
        let r = verify_consistency(old, new, &roots[old as usize - 1], r2, proof);
        expect_code(r, bad, &ctx);
    }
    let shape = consistency_shape(old, new, proof.len());
    assert!(shape.is_some(), "{ctx}");
    let sizes = [
        (old - 1, new),
        (old + 1, new),
        (old, new - 1),
        (old, new + 1),
        (old, new * 2),
    ];
    for (o, n) in sizes {
        let r = verify_consistency(o, n, r1, r2, proof);
        let what = format!("{ctx} as {o} -> {n}");
        if o == 0 || o > n {
            expect_code(r, ErrorCode::Malformed, &what);
        } else if consistency_shape(o, n, proof.len()) == shape {
            r.unwrap_or_else(|e| panic!("{what}: same shape, {e}"));
        } else {
            expect_code(r, bad, &what);
        }
    }
}

#[test]
fn proofs_for_historical_sizes_need_no_newer_data() {
    // A tree of 300 leaves answers for size 77 exactly as a tree of 77 does.
    let full = tree(MAX);
    let small = tree(77);
    for i in 0..77 {
        assert_eq!(
            full.prove_inclusion(i, 77).unwrap(),
            small.prove_inclusion(i, 77).unwrap()
        );
    }
    for o in 1..=77 {
        assert_eq!(
            full.prove_consistency(o, 77).unwrap(),
            small.prove_consistency(o, 77).unwrap()
        );
    }
}

#[test]
fn bad_requests_are_errors() {
    let t = tree(10);
    assert_eq!(
        t.prove_inclusion(10, 10).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(
        t.prove_inclusion(0, 11).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(
        t.prove_inclusion(0, 0).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(
        t.prove_consistency(0, 5).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(
        t.prove_consistency(6, 5).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(
        t.prove_consistency(5, 11).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(t.root_at(11).unwrap_err().code(), ErrorCode::Malformed);
    let d = [0u8; 32];
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[])
            .unwrap_err()
            .code(),
        ErrorCode::Malformed
    );
    assert_eq!(
        verify_consistency(3, 3, &d, &d, &[d]).unwrap_err().code(),
        ErrorCode::ProofInvalid
    );
    assert_eq!(
        verify_consistency(3, 3, &d, &flip(&d, 0), &[])
            .unwrap_err()
            .code(),
        ErrorCode::ProofInvalid
    );
    verify_consistency(3, 3, &d, &d, &[]).unwrap();
}

#[test]
fn wire_types_round_trip_and_bound() {
    let t = tree(20);
    let p = InclusionProof {
        leaf_index: 13,
        tree_size: 20,
        hashes: t.prove_inclusion(13, 20).unwrap(),
    };
    let bytes = p.to_bytes();
    assert_eq!(InclusionProof::from_bytes(&bytes).unwrap(), p);
    p.verify(&leaf(13), &t.root()).unwrap();
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["hashes"][0].as_str().unwrap().len(), 64);
    assert_eq!(serde_json::from_value::<InclusionProof>(json).unwrap(), p);
    // 65 hashes in JSON are refused by the decoder itself, before any verification.
    let many = serde_json::json!({
        "leaf_index": 0, "tree_size": 1,
        "hashes": vec!["00".repeat(32); 65],
    });
    assert!(serde_json::from_value::<InclusionProof>(many).is_err());
    // A postcard length prefix claiming 2^32 hashes fails without allocating for them.
    let mut hostile = vec![0x00, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10];
    hostile.extend_from_slice(&[0u8; 64]);
    assert!(ConsistencyProof::from_bytes(&hostile).is_err());
    let c = ConsistencyProof {
        old_size: 7,
        new_size: 20,
        hashes: t.prove_consistency(7, 20).unwrap(),
    };
    assert_eq!(ConsistencyProof::from_bytes(&c.to_bytes()).unwrap(), c);
    c.verify(&t.root_at(7).unwrap(), &t.root()).unwrap();
    let mut truncated = c.to_bytes();
    truncated.pop();
    assert_eq!(
        ConsistencyProof::from_bytes(&truncated).unwrap_err().code(),
        ErrorCode::Malformed
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2200)) {
        let _ = InclusionProof::from_bytes(&bytes);
        let _ = ConsistencyProof::from_bytes(&bytes);
    }

    #[test]
    fn verifiers_never_panic(
        index in any::<u64>(),
        size in any::<u64>(),
        old in any::<u64>(),
        n in 0usize..70,
        seed in any::<u8>(),
    ) {
        let proof: Vec<Digest> = (0..n).map(|i| [seed.wrapping_add(i as u8); 32]).collect();
        let d = [seed; 32];
        prop_assert!(verify_inclusion(&d, index, size, &proof, &d).is_err());
        prop_assert!(verify_consistency(old, size, &d, &[!seed; 32], &proof).is_err());
        let small = (index % 64, size % 64 + 1);
        let _ = verify_inclusion(&d, small.0, small.1, &proof, &d);
        let _ = verify_consistency(small.0, small.1, &d, &d, &proof);
    }

    #[test]
    fn random_trees_agree_with_root_of(n in 1u64..200, i in any::<u64>(), o in any::<u64>()) {
        let leaves: Vec<Digest> = (0..n).map(|k| leaf_hash(&k.to_le_bytes())).collect();
        let mut t = MemoryTree::new();
        for l in &leaves { t.append_leaf_hash(*l).unwrap(); }
        prop_assert_eq!(t.root(), root_of(&leaves));
        let (i, o) = (i % n, o % n + 1);
        let p = t.prove_inclusion(i, n).unwrap();
        prop_assert!(verify_inclusion(&leaves[i as usize], i, n, &p, &root_of(&leaves)).is_ok());
        let c = t.prove_consistency(o, n).unwrap();
        let old_root = root_of(&leaves[..o as usize]);
        prop_assert!(verify_consistency(o, n, &old_root, &t.root(), &c).is_ok());
    }
}

#[test]
fn documented_postcard_example() {
    // docs/FORMATS.md, "Proofs in bundles".
    let t = tree(10);
    let p = InclusionProof {
        leaf_index: 5,
        tree_size: 10,
        hashes: t.prove_inclusion(5, 10).unwrap(),
    };
    let bytes = p.to_bytes();
    assert_eq!(bytes.len(), 3 + 4 * 32);
    assert_eq!(&bytes[..4], &[0x05, 0x0a, 0x04, 0xea]);
    assert_eq!(&bytes[bytes.len() - 2..], &[0x52, 0x05]);
}
