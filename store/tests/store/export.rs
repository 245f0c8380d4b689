//! Ledger export and import-side verification: round trip, log-key rotation inside the
//! stream, consistency with a checkpoint from the source, and every kind of damage.

use cairn_core::crypto::Algorithm;
use cairn_core::trust::{Role, RoleSet, Thresholds};
use cairn_store::*;
use proptest::prelude::*;

fn node(i: u32) -> NodeSpec {
    NodeSpec::from_json(&format!(
        r#"{{"id": "n{i}", "name": "n", "version": "1", "provenance": {{"source": "s"}}}}"#
    ))
    .unwrap()
}

struct Source {
    _dir: tempfile::TempDir,
    reg: Registry,
}

fn source(origin: &str, nodes: u32) -> Source {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::create(
        dir.path().join("src.redb"),
        CreateOptions::new(origin, Protection::Insecure),
    )
    .unwrap();
    for i in 0..nodes {
        reg.register_node(&node(i)).unwrap();
        if i % 3 == 2 {
            reg.create_checkpoint().unwrap();
        }
    }
    reg.create_checkpoint().unwrap();
    Source { _dir: dir, reg }
}

fn log_key(reg: &Registry) -> cairn_core::crypto::PublicKey {
    reg.key(&reg.log_key_id().unwrap()).unwrap().public_key
}

fn export(reg: &Registry) -> Vec<u8> {
    let mut out = Vec::new();
    reg.export_ledger(&mut out).unwrap();
    out
}

#[test]
fn round_trip_with_rotation_and_expected_checkpoint() {
    let s = source("src.example.test/log", 7);
    let early = s.reg.latest_checkpoint().unwrap();
    let early_key = log_key(&s.reg);
    // Rotate the log key mid-history; the stream carries the rotation.
    s.reg
        .rotate_key(
            &s.reg.log_key_id().unwrap(),
            None,
            Algorithm::Ed25519MlDsa65,
            WeakerAlgorithm::Refuse,
            &Protection::Insecure,
        )
        .unwrap();
    s.reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("k", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap();
    s.reg.register_node(&node(100)).unwrap();
    s.reg.create_checkpoint().unwrap();
    s.reg.register_node(&node(101)).unwrap(); // after the newest checkpoint: the signed head covers it
    let stream = export(&s.reg);
    let expect = ExportExpectation {
        origin: Some("src.example.test/log".into()),
        checkpoint: Some((early.note.clone(), early_key.clone())),
    };
    let report = verify_export(&stream[..], &expect).unwrap();
    let head = s.reg.signed_head();
    assert_eq!(head.size, s.reg.tree_size().unwrap());
    assert_eq!((report.entries, report.root), (head.size, head.root));
    assert_eq!(report.log_key, s.reg.log_key_id().unwrap());
    // Every published checkpoint, and the signed head after the last entry.
    assert_eq!(
        report.checkpoints as usize,
        s.reg.checkpoints().unwrap().len() + 1
    );
    // The newest checkpoint with the new key also anchors it; with the old key it does not.
    let newest = s.reg.latest_checkpoint().unwrap();
    let ok = ExportExpectation {
        origin: None,
        checkpoint: Some((newest.note.clone(), log_key(&s.reg))),
    };
    verify_export(&stream[..], &ok).unwrap();
    let wrong_key = ExportExpectation {
        origin: None,
        checkpoint: Some((newest.note.clone(), early_key)),
    };
    assert!(verify_export(&stream[..], &wrong_key).is_err());
}

#[test]
fn foreign_or_forked_sources_are_refused() {
    let a = source("a.example.test/log", 4);
    let b = source("a.example.test/log", 5); // same origin, another history (a fork)
    let stream = export(&a.reg);
    let origin = ExportExpectation {
        origin: Some("other.example.test/log".into()),
        checkpoint: None,
    };
    assert_eq!(
        verify_export(&stream[..], &origin)
            .unwrap_err()
            .code()
            .as_str(),
        "domain_mismatch"
    );
    let fork_cp = b.reg.checkpoints().unwrap()[1].clone();
    let fork = ExportExpectation {
        origin: None,
        checkpoint: Some((fork_cp.note, log_key(&b.reg))),
    };
    assert!(verify_export(&stream[..], &fork).is_err());
    // A checkpoint of the source beyond the export: the export is stale or truncated.
    a.reg.register_node(&node(50)).unwrap();
    let later = a.reg.create_checkpoint().unwrap();
    let ahead = ExportExpectation {
        origin: None,
        checkpoint: Some((later.note, log_key(&a.reg))),
    };
    let e = verify_export(&stream[..], &ahead).unwrap_err();
    assert_eq!(e.code().as_str(), "chain_broken");
}

/// What a checkpoint claims besides its tree — the revocation map its entries build (its
/// `cairn.revocations` line) and the trust root they record (its `cairn.trust-root` line) —
/// must be what the entries give, as the audit requires: one validly signed over the right
/// tree but claiming anything else is refused.
#[test]
fn a_checkpoint_claiming_what_its_entries_do_not_give_is_refused() {
    use cairn_core::checkpoint::{Checkpoint, RevocationsRef, TrustRootRef};
    use cairn_core::ledger::export::{Frame, MAX_FRAME_LEN};
    let dir = tempfile::tempdir().unwrap();
    let mut opts = CreateOptions::new("r.example.test/log", Protection::Insecure);
    opts.log_algorithm = Algorithm::Ed25519; // a key PKCS#8 can carry, to sign the forgery
    let reg = Registry::create(dir.path().join("src.redb"), opts).unwrap();
    reg.register_node(&node(1)).unwrap();
    let key = |name: &str, role: Role| {
        reg.generate_key(
            Algorithm::Ed25519,
            &KeySpec::new(name, RoleSet::of(&[role])),
            &Protection::Insecure,
        )
        .unwrap()
        .key_id
    };
    let (k, root) = (key("k", Role::Peer), key("root", Role::Root));
    let spec = TrustRootSpec {
        keys: vec![root, reg.log_key_id().unwrap()],
        thresholds: Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Checkpoint, 1),
        expires_at: reg.now() + 86_400,
    };
    let v1 = reg.create_trust_root(&spec, &[(root, None)]).unwrap();
    reg.revoke_key(&k, "retired", &k, None).unwrap();
    reg.create_checkpoint().unwrap();
    let stream = export(&reg);
    let none = ExportExpectation::default();
    // The registry's own lines agree with the entries.
    verify_export(&stream[..], &none).unwrap();

    let pem = reg
        .export_private_pem(&reg.log_key_id().unwrap(), None)
        .unwrap();
    let log = cairn_core::crypto::pem::signing_key_from_pem(&pem).unwrap();
    let named = TrustRootRef {
        version: 1,
        id: v1.root.id(),
    };
    type Rewrite = fn(&mut Vec<String>, TrustRootRef);
    let cases: [(&str, Rewrite, &str); 3] = [
        (
            "commits to no revocation",
            |lines, _| {
                lines.retain(|l| RevocationsRef::parse_line(l).unwrap().is_none());
                lines.push(
                    RevocationsRef {
                        count: 0,
                        root: cairn_core::revocation::empty_root(),
                    }
                    .to_line(),
                );
            },
            "commits to 0 revocations",
        ),
        (
            "names another root",
            |lines, named| {
                lines.retain(|l| TrustRootRef::parse_line(l).unwrap().is_none());
                let other = TrustRootRef {
                    id: [0x5a; 32],
                    ..named
                };
                lines.insert(0, other.to_line());
            },
            "names trust root version 1 (5a5a",
        ),
        (
            "names a newer root",
            |lines, named| {
                lines.retain(|l| TrustRootRef::parse_line(l).unwrap().is_none());
                let other = TrustRootRef {
                    version: 2,
                    ..named
                };
                lines.insert(0, other.to_line());
            },
            "names trust root version 2",
        ),
    ];
    for (name, rewrite, says) in cases {
        // Re-sign (with the real log key) every checkpoint that claims the revocation and
        // the trust root, with its lines rewritten.
        let mut forged = stream[..9].to_vec();
        let mut at = 9;
        let mut changed = 0;
        while at < stream.len() {
            let len = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
            let body = &stream[at + 4..at + 4 + len];
            at += 4 + len;
            let mut frame: Frame =
                cairn_core::encoding::from_postcard(body, MAX_FRAME_LEN, "frame").unwrap();
            if let Frame::Checkpoint(note) = &frame {
                let text = cairn_core::note::Note::parse(note.as_bytes()).unwrap();
                let cp = Checkpoint::parse_text(text.text()).unwrap();
                let claims_both = cp.revocations().unwrap().is_some_and(|r| r.count == 1)
                    && cp.trust_root().unwrap() == Some(named);
                if claims_both {
                    let mut other = Checkpoint::new(&cp.origin, cp.size, cp.root);
                    other.extensions = cp.extensions.clone();
                    rewrite(&mut other.extensions, named);
                    frame = Frame::Checkpoint(other.sign(&[(&cp.origin, &log)]).unwrap());
                    changed += 1;
                }
            }
            forged.extend_from_slice(&frame.encode().unwrap());
        }
        assert!(changed >= 1, "{name}");
        let e = verify_export(&forged[..], &none).unwrap_err();
        assert_eq!(e.code().as_str(), "proof_invalid", "{name}: {e}");
        assert!(e.to_string().contains(says), "{name}: {e}");
    }
}

#[test]
fn damage_is_reported() {
    let s = source("d.example.test/log", 5);
    let stream = export(&s.reg);
    let none = ExportExpectation::default();
    verify_export(&stream[..], &none).unwrap();
    // Truncated anywhere.
    for cut in [0, 5, 9, 12, stream.len() / 2, stream.len() - 1] {
        assert!(
            verify_export(&stream[..cut], &none).is_err(),
            "cut at {cut}"
        );
    }
    // Trailing bytes: a frame, or one to three bytes of a frame's length (as cairn-core's
    // verifier, which the browser runs, refuses them).
    for tail in [&[0u8, 0, 0, 1, 0][..], &[0], &[0, 0], &[0, 0, 0]] {
        let longer = [&stream[..], tail].concat();
        let e = verify_export(&longer[..], &none).unwrap_err();
        assert_eq!(e.code().as_str(), "malformed", "{tail:?}: {e}");
        let core = cairn_core::ledger::export::verify_export(&longer, &none);
        assert!(core.is_err(), "{tail:?}");
    }
    // Wrong magic and version.
    let mut v = stream.clone();
    v[8] = 1; // the per-entry-signed format of schema 1
    assert_eq!(
        verify_export(&v[..], &none).unwrap_err().code().as_str(),
        "unsupported_version"
    );
    v[8] = 3;
    assert_eq!(
        verify_export(&v[..], &none).unwrap_err().code().as_str(),
        "unsupported_version"
    );
    v[0] = b'X';
    assert_eq!(
        verify_export(&v[..], &none).unwrap_err().code().as_str(),
        "malformed"
    );
    // A byte flipped in each region of the stream.
    for at in (9..stream.len()).step_by(97) {
        let mut bad = stream.clone();
        bad[at] ^= 0x10;
        assert!(
            verify_export(&bad[..], &none).is_err(),
            "flip at {at} accepted"
        );
    }
    // A frame in a non-canonical spelling: the header's variant index 0 written as the
    // two-byte varint 80 00 (the frame's length one more). Every frame has one encoding.
    let len = u32::from_be_bytes([stream[9], stream[10], stream[11], stream[12]]);
    assert_eq!(stream[13], 0, "the header frame's variant index");
    let respelled = [
        &stream[..9],
        &(len + 1).to_be_bytes()[..],
        &[0x80, 0x00],
        &stream[14..],
    ]
    .concat();
    assert_eq!(
        verify_export(&respelled[..], &none)
            .unwrap_err()
            .code()
            .as_str(),
        "malformed"
    );
    let core = cairn_core::ledger::export::verify_export(&respelled, &none).unwrap_err();
    assert_eq!(core.code().as_str(), "malformed", "{core}");
    // A huge frame length is refused before allocating.
    let mut huge = stream[..9].to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        verify_export(&huge[..], &none).unwrap_err().code().as_str(),
        "too_large"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn mutated_streams_never_panic(seed in any::<u64>(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in any::<usize>()) {
        thread_local! {
            static STREAM: Vec<u8> = export(&source("p.example.test/log", 3).reg);
        }
        let mut bytes = STREAM.with(|s| s.clone());
        for (at, x) in flips {
            let i = at % bytes.len();
            bytes[i] ^= x | 1;
        }
        if seed % 3 == 0 {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        let _ = verify_export(&bytes[..], &ExportExpectation::default());
    }
}
