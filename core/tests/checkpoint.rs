//! Checkpoints: every suite signs and verifies, policies, the binding of a checkpoint to the
//! Merkle tree, and verifiers that reject (never panic on) mutated or random notes.

use std::sync::OnceLock;

use cairn_core::checkpoint::*;
use cairn_core::crypto::{Algorithm, PublicKey, SigningKey};
use cairn_core::encoding::b64_encode;
use cairn_core::merkle::{leaf_hash, verify_consistency, verify_inclusion, MemoryTree, EMPTY_ROOT};
use cairn_core::note::{Note, MAX_NOTE_LEN};
use cairn_core::ErrorCode;
use proptest::prelude::*;

const LOG: &str = "example.test/log";

fn verifier(name: &str, key: &SigningKey) -> CheckpointVerifier {
    CheckpointVerifier {
        name: name.into(),
        public_key: key.public_key().clone(),
    }
}

#[test]
fn every_suite_signs_and_verifies() {
    let cp = Checkpoint::new(LOG, 3, [0x42; 32]);
    for alg in [
        Algorithm::Ed25519,
        Algorithm::MlDsa44,
        Algorithm::MlDsa65,
        Algorithm::Ed25519MlDsa44,
        Algorithm::Ed25519MlDsa65,
    ] {
        let key = SigningKey::from_seed(alg, &[alg.id(); 32]);
        let note = cp.sign(&[(LOG, &key)]).unwrap();
        let got = verify_checkpoint(
            note.as_bytes(),
            &[verifier(LOG, &key)],
            &CheckpointPolicy::new(LOG),
        )
        .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(got.signers, [key.public_key().key_id()]);
        assert_eq!(
            (got.origin.as_str(), got.size, got.root),
            (LOG, 3, [0x42; 32])
        );
        // The text is exactly the checkpoint text.
        assert_eq!(
            Note::parse(note.as_bytes()).unwrap().text(),
            cp.to_text().unwrap()
        );
    }
}

#[test]
fn checkpoint_binds_tree_size_and_root_for_proofs() {
    // A log appends, signs a checkpoint, and a client checks an inclusion proof and a
    // consistency proof against verified checkpoints only.
    let key = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
    let v = [verifier(LOG, &key)];
    let policy = CheckpointPolicy::all(LOG, &v);
    let mut tree = MemoryTree::new();
    for i in 0..7u8 {
        tree.append(&[i]).unwrap();
    }
    let old = Checkpoint::new(LOG, 7, tree.root())
        .sign(&[(LOG, &key)])
        .unwrap();
    for i in 7..20u8 {
        tree.append(&[i]).unwrap();
    }
    let new = Checkpoint::new(LOG, 20, tree.root())
        .sign(&[(LOG, &key)])
        .unwrap();
    let old = verify_checkpoint(old.as_bytes(), &v, &policy).unwrap();
    let new = verify_checkpoint(new.as_bytes(), &v, &policy).unwrap();
    let proof = tree.prove_inclusion(13, new.size).unwrap();
    verify_inclusion(&leaf_hash(&[13]), 13, new.size, &proof, &new.root).unwrap();
    let proof = tree.prove_consistency(old.size, new.size).unwrap();
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof).unwrap();
    assert_eq!(
        verify_consistency(old.size, new.size, &new.root, &new.root, &proof)
            .unwrap_err()
            .code(),
        ErrorCode::ProofInvalid
    );
}

#[test]
fn policies() {
    let a = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    let b = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
    let cp = Checkpoint::new(LOG, 0, EMPTY_ROOT);
    let both = cp.sign(&[(LOG, &a), ("example.test/b", &b)]).unwrap();
    let only_a = cp.sign(&[(LOG, &a)]).unwrap();
    let vs = [verifier(LOG, &a), verifier("example.test/b", &b)];
    let all = CheckpointPolicy::all(LOG, &vs);
    assert_eq!(all.threshold, 2);
    assert_eq!(
        verify_checkpoint(both.as_bytes(), &vs, &all)
            .unwrap()
            .signers
            .len(),
        2
    );
    assert_eq!(
        verify_checkpoint(only_a.as_bytes(), &vs, &all)
            .unwrap_err()
            .code(),
        ErrorCode::ThresholdNotMet
    );
    // The same key listed twice (even under two names) is one signer.
    let twice = [verifier(LOG, &a), verifier(LOG, &a)];
    let mut p = CheckpointPolicy::new(LOG);
    p.threshold = 2;
    assert_eq!(
        verify_checkpoint(only_a.as_bytes(), &twice, &p)
            .unwrap_err()
            .code(),
        ErrorCode::ThresholdNotMet
    );
    p.threshold = 0;
    assert_eq!(
        verify_checkpoint(only_a.as_bytes(), &twice, &p)
            .unwrap_err()
            .code(),
        ErrorCode::Malformed
    );
    // Legacy keys cannot sign notes.
    let legacy = CheckpointVerifier {
        name: LOG.into(),
        public_key: PublicKey::from_bytes(Algorithm::Dilithium2R3, &[0; 1312]).unwrap(),
    };
    assert_eq!(
        verify_checkpoint(only_a.as_bytes(), &[legacy], &CheckpointPolicy::new(LOG))
            .unwrap_err()
            .code(),
        ErrorCode::UnsupportedAlgorithm
    );
    assert!(cp.sign(&[]).is_err());
    assert!(cp.sign(&[("bad name", &a)]).is_err());
}

#[test]
fn oversized_note_is_too_large() {
    let a = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    let note = Checkpoint::new(LOG, 0, EMPTY_ROOT)
        .sign(&[(LOG, &a)])
        .unwrap();
    let big = format!(
        "{LOG}\n0\n{}\n{}\n\n{}",
        b64_encode(&EMPTY_ROOT),
        "x".repeat(MAX_NOTE_LEN),
        &note[note.rfind("\n\n").unwrap() + 2..]
    );
    assert_eq!(
        verify_checkpoint(
            big.as_bytes(),
            &[verifier(LOG, &a)],
            &CheckpointPolicy::new(LOG)
        )
        .unwrap_err()
        .code(),
        ErrorCode::TooLarge
    );
}

struct Fixture {
    ed_note: String,
    hybrid_note: String,
    ed: Vec<CheckpointVerifier>,
    hybrid: Vec<CheckpointVerifier>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ed = SigningKey::from_seed(Algorithm::Ed25519, &[3; 32]);
        let hy = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[4; 32]);
        let mut cp = Checkpoint::new(LOG, 12345, [0x5a; 32]);
        cp.extensions.push("ext".into());
        Fixture {
            ed_note: cp.sign(&[(LOG, &ed)]).unwrap(),
            hybrid_note: cp.sign(&[(LOG, &hy)]).unwrap(),
            ed: vec![verifier(LOG, &ed)],
            hybrid: vec![verifier(LOG, &hy)],
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let f = fixture();
        prop_assert!(verify_checkpoint(&bytes, &f.ed, &CheckpointPolicy::new(LOG)).is_err());
    }

    #[test]
    fn checkpoint_text_never_panics(s in "[0-9a-zA-Z+/=\n. -]{0,120}") {
        if let Ok(c) = Checkpoint::parse_text(&s) {
            prop_assert_eq!(c.to_text().unwrap(), s);
        }
    }

    #[test]
    fn valid_checkpoints_round_trip(
        origin in "[a-z0-9./-]{1,30}",
        size in 1u64..=i64::MAX as u64,
        root in any::<[u8; 32]>(),
        ext in proptest::collection::vec("[ -~]{1,20}", 0..3),
    ) {
        let c = Checkpoint { origin, size, root, extensions: ext };
        prop_assert_eq!(Checkpoint::parse_text(&c.to_text().unwrap()).unwrap(), c);
    }
}

proptest! {
    // Each case verifies signatures, slow in debug builds: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn mutated_ed25519_checkpoints_are_rejected(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let f = fixture();
        let mut bytes = f.ed_note.clone().into_bytes();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        prop_assert!(verify_checkpoint(&bytes, &f.ed, &CheckpointPolicy::new(LOG)).is_err());
    }

    #[test]
    fn mutated_hybrid_checkpoints_are_rejected(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let f = fixture();
        let mut bytes = f.hybrid_note.clone().into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(verify_checkpoint(&bytes, &f.hybrid, &CheckpointPolicy::new(LOG)).is_err());
    }

    #[test]
    fn truncated_hybrid_checkpoints_are_rejected(cut in 1usize..4000) {
        let f = fixture();
        let bytes = f.hybrid_note.as_bytes();
        let cut = cut.min(bytes.len());
        prop_assert!(verify_checkpoint(&bytes[..bytes.len() - cut], &f.hybrid, &CheckpointPolicy::new(LOG)).is_err());
    }
}
