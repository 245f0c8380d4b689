//! Subtree hashes already proven under a signed head of this registry, so that a verified
//! read's inclusion proof can stop after a few levels instead of climbing to the root.
//!
//! Why this is sound: the ledger's tree is append-only, so the hash of a *complete* subtree
//! (level `l`, index `i`, covering leaves `i·2^l .. (i+1)·2^l`) never changes once the tree has
//! that many leaves. A hash that was part of a successful inclusion proof against a verified
//! signed head is authenticated by that head; a later proof that recomputes the same subtree
//! from a leaf and reaches the same hash has proven the leaf under that head too, and every
//! later head this process writes extends it.
//!
//! Invariants:
//! - only complete subtrees, only hashes recomputed during a proof that then verified against
//!   the signed head (`kernel::proven`): the leaf proven, and the subtrees from the lowest
//!   cached level up (a record read again is proven by its leaf's hash alone; a new one climbs
//!   to the lowest cached level);
//! - the set is emptied whenever the registry adopts a head it did not write itself (another
//!   process committed, or the file was re-verified), so a head that does not extend the old
//!   one can never be vouched for by hashes proven under it;
//! - bounded: at most [`MAX_KNOWN`] hashes; the set is emptied when full (it refills from the
//!   next proofs, top levels first).

use std::collections::HashMap;

use cairn_core::encoding::Digest;

/// Most subtree hashes kept: 2^18, each about 64 bytes with the map's overhead, so at most
/// about 16 MB, filled only as proofs are made. The bound sets the lowest cached level
/// ([`lowest_cached_level`]): with 2^18, every subtree of two leaves and up is kept for
/// ledgers up to 2^18 entries (a verified read then climbs one level at most), and a ledger
/// of 10^6 entries climbs three. 2^15 (2 MB) climbed four levels at 2·10^5 entries and six at
/// 10^6, and those tree-hash reads were most of a verified read's cost (docs/PERFORMANCE.md).
pub(crate) const MAX_KNOWN: usize = 1 << 18;

/// Most proven records kept (32 bytes each with the set's overhead about 48: at most 6 MB).
pub(crate) const MAX_RECORDS: usize = 1 << 17;

/// Proven subtree hashes, keyed by `(level, index)`, and the digests of state records already
/// checked against their ledger entries.
///
/// A record's check compares it with entries of an append-only, verified log; those entries
/// never change, so the same record bytes pass the same check again for as long as the heads
/// this registry trusts extend the one it was checked under: the lifetime of the subtree
/// hashes, so both are kept and emptied together. A record that differs in any byte has
/// another digest and is checked in full.
#[derive(Debug, Default)]
pub(crate) struct KnownSubtrees {
    hashes: HashMap<(u8, u64), Digest>,
    records: std::collections::HashSet<Digest>,
}

impl KnownSubtrees {
    /// The proven hash of subtree `(level, index)`, if known.
    pub(crate) fn get(&self, level: u8, index: u64) -> Option<Digest> {
        self.hashes.get(&(level, index)).copied()
    }

    /// Records hashes just proven under the signed head (see the module invariants).
    pub(crate) fn insert_proven(&mut self, proven: &[((u8, u64), Digest)]) {
        if self.hashes.len() + proven.len() > MAX_KNOWN {
            self.hashes.clear();
        }
        self.hashes.extend(proven.iter().copied());
    }

    /// Forgets everything (the registry adopted a head it did not write).
    pub(crate) fn clear(&mut self) {
        self.hashes.clear();
        self.records.clear();
    }

    /// Whether a record with this digest ([`record_digest`]) was checked against its entries.
    pub(crate) fn record_proven(&self, digest: &Digest) -> bool {
        self.records.contains(digest)
    }

    /// Notes a record just checked against its ledger entries (emptied when full).
    pub(crate) fn insert_record(&mut self, digest: Digest) {
        if self.records.len() >= MAX_RECORDS {
            self.records.clear();
        }
        self.records.insert(digest);
    }

    /// How many hashes are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }
}

/// The digest a checked record is remembered by: its table's name and its stored bytes, so
/// equal bytes in two tables never stand for each other.
pub(crate) fn record_digest(table: &str, bytes: &[u8]) -> Digest {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update((table.len() as u64).to_be_bytes());
    h.update(table.as_bytes());
    h.update(bytes);
    h.finalize().into()
}

/// The lowest level worth caching for a tree of `size` leaves: high enough that every subtree
/// at or above it fits in [`MAX_KNOWN`] (about `2·size / 2^level` of them), and at least 1
/// (a leaf's own hash is recomputed from its entry anyway).
pub(crate) fn lowest_cached_level(size: u64) -> u8 {
    let bits = 64 - size.leading_zeros() as u8; // size < 2^bits
    let budget = MAX_KNOWN.trailing_zeros() as u8 - 1; // 2^(budget+1) = MAX_KNOWN
    bits.saturating_sub(budget).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cached_levels_fit_the_bound() {
        for size in [1u64, 2, 1000, 1 << 14, 1_000_000, 10_000_000, u64::MAX >> 1] {
            let l = lowest_cached_level(size);
            assert!(l >= 1);
            // Subtrees at level >= l number at most 2 * size / 2^l.
            let count = (2 * (size as u128)) >> l;
            assert!(
                count <= MAX_KNOWN as u128,
                "size {size}: level {l}, {count} subtrees"
            );
        }
        assert_eq!(lowest_cached_level(1000), 1);
    }

    #[test]
    fn a_full_set_starts_over() {
        let mut k = KnownSubtrees::default();
        let batch: Vec<_> = (0..MAX_KNOWN as u64).map(|i| ((1, i), [0; 32])).collect();
        k.insert_proven(&batch);
        assert_eq!(k.len(), MAX_KNOWN);
        k.insert_proven(&[((2, 0), [1; 32])]);
        assert_eq!(k.len(), 1);
        assert_eq!(k.get(2, 0), Some([1; 32]));
        assert_eq!(k.get(1, 0), None);
    }

    #[test]
    fn proven_records_are_keyed_by_table_and_bytes_and_forgotten_with_the_hashes() {
        let mut k = KnownSubtrees::default();
        let a = record_digest("peers", b"record");
        assert_ne!(a, record_digest("peers", b"recorc"));
        assert_ne!(a, record_digest("tokens", b"record"));
        // The table name's length is part of the digest: no shifting bytes across the seam.
        assert_ne!(record_digest("peer", b"srecord"), a);
        assert!(!k.record_proven(&a));
        k.insert_record(a);
        assert!(k.record_proven(&a));
        k.insert_proven(&[((1, 0), [7; 32])]);
        k.clear();
        assert!(!k.record_proven(&a));
        assert_eq!(k.len(), 0);
        for i in 0..MAX_RECORDS as u64 + 1 {
            k.insert_record(record_digest("peers", &i.to_be_bytes()));
        }
        assert!(k.records.len() <= MAX_RECORDS);
    }
}
