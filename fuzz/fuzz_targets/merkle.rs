//! RFC 6962 / 9162 Merkle proofs.
//!
//! A tree of 1 to 64 leaves (`flags`) is built in memory. Mode 0 (even): the first record is
//! a postcard `InclusionProof`; mode 1 (odd): a `ConsistencyProof`. Either is checked against
//! the roots of the honest tree at the sizes it names.
//!
//! Invariants: proof bytes round-trip; the honest proof for the same position verifies;
//! a fuzzed proof verifies only if it is exactly the honest proof (RFC 9162 proofs are unique
//! for a given index and sizes, up to SHA-256 collisions); the same proof checked against a
//! wrong root fails.
#![no_main]

use cairn_core::merkle::{
    leaf_hash, root_of, verify_consistency, verify_inclusion, ConsistencyProof, InclusionProof,
    MemoryTree,
};
use cairn_fuzz::{root_from_inclusion, Input};
use libfuzzer_sys::fuzz_target;

fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(&i.to_le_bytes()).unwrap();
    }
    t
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let Some(bytes) = input.records.first() else {
        return;
    };
    let n = u64::from(input.flags % 64) + 1;
    let t = tree(n);
    let leaves: Vec<_> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    assert_eq!(t.root(), root_of(&leaves));

    if input.mode % 2 == 0 {
        let Ok(p) = InclusionProof::from_bytes(bytes) else {
            return;
        };
        assert_eq!(InclusionProof::from_bytes(&p.to_bytes()).as_ref(), Ok(&p));
        if p.tree_size == 0 || p.tree_size > n || p.leaf_index >= p.tree_size {
            // Sizes outside the tree: still must not panic, with any leaf and root.
            let _ = p.verify(&leaves[0], &t.root());
            let _ = root_from_inclusion(&leaves[0], p.leaf_index, p.tree_size, &p.hashes);
            return;
        }
        let leaf = leaves[p.leaf_index as usize];
        let root = t.root_at(p.tree_size).unwrap();
        let honest = t.prove_inclusion(p.leaf_index, p.tree_size).unwrap();
        verify_inclusion(&leaf, p.leaf_index, p.tree_size, &honest, &root)
            .expect("the honest inclusion proof verifies");
        let ok = p.verify(&leaf, &root).is_ok();
        assert_eq!(
            ok,
            p.hashes == honest,
            "only the honest inclusion proof verifies"
        );
        assert_eq!(
            ok,
            root_from_inclusion(&leaf, p.leaf_index, p.tree_size, &p.hashes) == Some(root)
        );
        let mut wrong = root;
        wrong[0] ^= 1;
        assert!(p.verify(&leaf, &wrong).is_err());
    } else {
        let Ok(p) = ConsistencyProof::from_bytes(bytes) else {
            return;
        };
        assert_eq!(ConsistencyProof::from_bytes(&p.to_bytes()).as_ref(), Ok(&p));
        if p.new_size > n || p.old_size > p.new_size {
            let _ = p.verify(&t.root(), &t.root());
            return;
        }
        let old = t.root_at(p.old_size).unwrap();
        let new = t.root_at(p.new_size).unwrap();
        let ok = p.verify(&old, &new).is_ok();
        match t.prove_consistency(p.old_size, p.new_size) {
            Ok(honest) => {
                verify_consistency(p.old_size, p.new_size, &old, &new, &honest)
                    .expect("the honest consistency proof verifies");
                assert_eq!(
                    ok,
                    p.hashes == honest,
                    "only the honest consistency proof verifies"
                );
            }
            Err(_) => assert!(!ok, "no proof verifies where none can be made"),
        }
        if ok && p.old_size != p.new_size {
            let mut wrong = new;
            wrong[31] ^= 0x80;
            assert!(p.verify(&old, &wrong).is_err());
            assert!(p.verify(&wrong, &new).is_err() || p.old_size == 0);
        }
    }
});
