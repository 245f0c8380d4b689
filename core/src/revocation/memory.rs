//! An in-memory revocation map: the reference builder for tests, vectors and small registries.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::{bit, empty_hash, leaf_hash, node_hash, ProofStatus, RevocationProof, DEPTH};
use crate::encoding::{hex_encode, Digest};
use crate::error::{Error, ErrorCode, Result};

/// The revocation map held in memory: map key → `seq` of the revoking entry, kept sorted.
///
/// Roots and proofs are recomputed from the sorted keys: a subtree with no key is
/// [`empty_hash`], a subtree with one key is its leaf folded up with empty siblings, and
/// any other subtree splits at the next key bit. A root costs about 256 hashes per key; a
/// proof about the same. A persistent store keeps branch records instead
/// ([`super::nodes`]), with identical roots and proofs.
///
/// ```
/// use cairn_core::revocation::{empty_root, map_key, MemoryMap, ObjectKind};
/// let mut map = MemoryMap::new();
/// assert_eq!(map.root(), empty_root());
/// map.insert(map_key(ObjectKind::Key, &[3; 32]), 12)?;
/// assert_eq!(map.len(), 1);
/// assert_ne!(map.root(), empty_root());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryMap {
    leaves: BTreeMap<Digest, u64>,
}

impl MemoryMap {
    /// An empty map.
    pub fn new() -> MemoryMap {
        MemoryMap::default()
    }

    /// Records `key` as revoked by entry `seq`. A key is revoked once: inserting it again is
    /// `replayed` (the map is unchanged), as the ledger refuses a second revocation.
    pub fn insert(&mut self, key: Digest, seq: u64) -> Result<()> {
        if let Some(old) = self.leaves.get(&key) {
            return Err(Error::new(
                ErrorCode::Replayed,
                alloc::format!(
                    "revocation map: key {} is already revoked (entry {old})",
                    hex_encode(&key)
                ),
            ));
        }
        self.leaves.insert(key, seq);
        Ok(())
    }

    /// The `seq` recorded for `key`, if it is revoked.
    pub fn get(&self, key: &Digest) -> Option<u64> {
        self.leaves.get(key).copied()
    }

    /// Number of revoked keys (the count of the checkpoint's `cairn.revocations` line).
    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// True when nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// The map's root.
    pub fn root(&self) -> Digest {
        let sorted: Vec<(Digest, u64)> = self.leaves.iter().map(|(k, v)| (*k, *v)).collect();
        subtree(&sorted, 0)
    }

    /// A proof about `key`: of membership if it is revoked, of non-membership otherwise.
    pub fn prove(&self, key: &Digest) -> RevocationProof {
        let sorted: Vec<(Digest, u64)> = self.leaves.iter().map(|(k, v)| (*k, *v)).collect();
        let mut siblings = [[0u8; 32]; DEPTH];
        let mut range: &[(Digest, u64)] = &sorted;
        for (depth, slot) in siblings.iter_mut().enumerate() {
            let split = range.partition_point(|(k, _)| !bit(k, depth));
            let (left, right) = range.split_at(split);
            let (path, other) = if bit(key, depth) {
                (right, left)
            } else {
                (left, right)
            };
            *slot = subtree(other, depth + 1);
            range = path;
        }
        let status = match self.leaves.get(key) {
            Some(&seq) => ProofStatus::Present { seq },
            None => ProofStatus::Absent,
        };
        RevocationProof::from_siblings(status, &siblings)
    }
}

/// The hash of the subtree at `depth` holding exactly the (sorted) `keys`, which all share
/// the first `depth` bits.
fn subtree(keys: &[(Digest, u64)], depth: usize) -> Digest {
    match keys {
        [] => empty_hash(DEPTH - depth),
        [(key, seq)] => {
            let mut h = leaf_hash(key, *seq);
            for i in (depth..DEPTH).rev() {
                let e = empty_hash(DEPTH - 1 - i);
                h = if bit(key, i) {
                    node_hash(&e, &h)
                } else {
                    node_hash(&h, &e)
                };
            }
            h
        }
        _ => {
            // Two distinct keys differ before depth 256, so this recursion ends.
            let split = keys.partition_point(|(k, _)| !bit(k, depth));
            let (l, r) = keys.split_at(split);
            node_hash(&subtree(l, depth + 1), &subtree(r, depth + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{empty_root, map_key, ObjectKind};
    use super::*;
    use crate::encoding::sha256;

    fn key(i: u32) -> Digest {
        sha256(&[&i.to_be_bytes()])
    }

    #[test]
    fn proofs_for_present_and_absent_keys() {
        let mut m = MemoryMap::new();
        for i in 0..40 {
            m.insert(key(i), u64::from(i) * 3).unwrap();
        }
        let root = m.root();
        for i in 0..60 {
            let p = m.prove(&key(i));
            let p = RevocationProof::from_bytes(&p.to_bytes()).unwrap();
            assert_eq!(p.root(&key(i)), root, "key {i}");
            if i < 40 {
                assert_eq!(
                    p.verify_membership(&root, &key(i)).unwrap(),
                    u64::from(i) * 3
                );
                assert_eq!(
                    p.verify_non_membership(&root, &key(i)).unwrap_err().code(),
                    ErrorCode::Revoked
                );
            } else {
                p.verify_non_membership(&root, &key(i)).unwrap();
                assert_eq!(
                    p.verify_membership(&root, &key(i)).unwrap_err().code(),
                    ErrorCode::ProofInvalid
                );
                // The proof of another key does not prove this one.
                assert_eq!(
                    p.verify_non_membership(&root, &key(i + 100))
                        .unwrap_err()
                        .code(),
                    ErrorCode::ProofInvalid
                );
            }
        }
    }

    #[test]
    fn root_is_order_independent_and_insert_is_once() {
        let mut a = MemoryMap::new();
        let mut b = MemoryMap::new();
        for i in 0..10 {
            a.insert(key(i), 1).unwrap();
            b.insert(key(9 - i), 1).unwrap();
        }
        assert_eq!(a.root(), b.root());
        assert_eq!(a.insert(key(3), 2).unwrap_err().code(), ErrorCode::Replayed);
        assert_eq!(a.get(&key(3)), Some(1));
    }

    #[test]
    fn single_key_map_is_the_folded_leaf() {
        let mut m = MemoryMap::new();
        assert_eq!(m.root(), empty_root());
        let k = map_key(ObjectKind::Manifest, &[0xab; 32]);
        m.insert(k, 5).unwrap();
        let mut h = leaf_hash(&k, 5);
        for i in (0..DEPTH).rev() {
            let e = empty_hash(DEPTH - 1 - i);
            h = if bit(&k, i) {
                node_hash(&e, &h)
            } else {
                node_hash(&h, &e)
            };
        }
        assert_eq!(m.root(), h);
        // Its proofs carry no sibling at all.
        assert!(m.prove(&k).siblings().is_empty());
    }

    #[test]
    fn keys_sharing_a_long_prefix() {
        let mut m = MemoryMap::new();
        let a = [0u8; 32];
        let mut b = [0u8; 32];
        b[31] = 1; // differs only at bit 255
        m.insert(a, 1).unwrap();
        m.insert(b, 2).unwrap();
        let root = m.root();
        let p = m.prove(&a);
        assert_eq!(p.siblings().len(), 1);
        assert_eq!(p.verify_membership(&root, &a).unwrap(), 1);
        let mut c = [0u8; 32];
        c[31] = 2;
        m.prove(&c).verify_non_membership(&root, &c).unwrap();
    }
}
