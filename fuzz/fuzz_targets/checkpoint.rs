//! C2SP signed notes and tlog-checkpoints.
//!
//! Mode 0 (even): the first record is a signed note, verified with the verifiers and policy
//! of checkpoint.json case `flags`. Invariants: a parsed note encodes to text that parses to
//! an equal note; a parsed checkpoint body re-encodes to text that parses to an equal
//! checkpoint (and names the trust root its `cairn.trust-root` line says, and is, as a
//! verifier's memory, not older than itself and newer than any smaller size); a verified
//! checkpoint carries the policy's origin, meets its threshold and
//! required keys, and verifies again to the same result.
//!
//! Mode 1 (odd): the first record is checkpoint body text. Whatever `parse_text` accepts,
//! signed by a fixed Ed25519 key under its own origin, must verify, with the same fields.
#![no_main]

use std::sync::OnceLock;

use cairn_core::checkpoint::{
    check_freshness, verify_checkpoint, Checkpoint, CheckpointPolicy, CheckpointVerifier, LastSeen,
    TrustRootRef,
};
use cairn_core::crypto::KeyId;
use cairn_core::note::{is_valid_key_name, Note};
use cairn_fuzz::{cases, key_from_json, pick, pool, vectors, Input};
use libfuzzer_sys::fuzz_target;

struct Case {
    verifiers: Vec<CheckpointVerifier>,
    policy: CheckpointPolicy,
}

fn fixtures() -> &'static [Case] {
    static F: OnceLock<Vec<Case>> = OnceLock::new();
    F.get_or_init(|| {
        cases(vectors::CHECKPOINT)
            .iter()
            .map(|c| {
                let a = &c["args"];
                let verifiers = a["verifiers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| CheckpointVerifier {
                        name: v["name"].as_str().unwrap().into(),
                        public_key: key_from_json(v),
                    })
                    .collect();
                let policy = CheckpointPolicy {
                    origin: a["policy"]["origin"].as_str().unwrap().into(),
                    threshold: a["policy"]["threshold"].as_u64().unwrap() as usize,
                    required: a["policy"]["required"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| KeyId::from_hex(h.as_str().unwrap()).unwrap())
                        .collect(),
                };
                Case { verifiers, policy }
            })
            .collect()
    })
}

fn check_checkpoint_text(text: &str) -> Option<Checkpoint> {
    let cp = Checkpoint::parse_text(text).ok()?;
    let again = cp.to_text().expect("a parsed checkpoint encodes");
    assert_eq!(
        Checkpoint::parse_text(&again).as_ref().ok(),
        Some(&cp),
        "checkpoint text round trip"
    );
    // The trust root it names: the line round-trips and is one of the extension lines.
    if let Ok(Some(r)) = cp.trust_root() {
        let line = r.to_line();
        assert!(
            cp.extensions.contains(&line),
            "the named root's line is canonical"
        );
        assert_eq!(TrustRootRef::parse_line(&line).unwrap(), Some(r));
    }
    // As a verifier's memory: the same checkpoint, not older than itself, and every smaller
    // size is older; another root at its size is a split view.
    let seen = LastSeen::parse_note(text.as_bytes()).expect("checkpoint text is a memory");
    assert_eq!(seen, LastSeen::Checkpoint(cp.clone()));
    assert!(check_freshness(&cp.origin, cp.size, &cp.root, &seen).is_ok());
    if cp.size > 0 {
        let e = check_freshness(&cp.origin, cp.size - 1, &cp.root, &seen).unwrap_err();
        assert_eq!(e.code().as_str(), "replayed");
    }
    let mut other = cp.root;
    other[0] ^= 1;
    let e = check_freshness(&cp.origin, cp.size, &other, &seen).unwrap_err();
    assert_eq!(e.code().as_str(), "proof_invalid");
    Some(cp)
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let Some(bytes) = input.records.first() else {
        return;
    };
    if input.mode % 2 == 0 {
        if let Ok(note) = Note::parse(bytes) {
            let text = note.encode().expect("a parsed note encodes");
            let back = Note::parse(text.as_bytes()).expect("an encoded note parses");
            assert_eq!(back, note, "note round trip");
            check_checkpoint_text(note.text());
        }
        let case = pick(fixtures(), input.flags);
        let first = verify_checkpoint(bytes, &case.verifiers, &case.policy);
        if let Ok(v) = &first {
            assert_eq!(v.origin, case.policy.origin);
            assert!(v.signers.len() >= case.policy.threshold);
            for r in &case.policy.required {
                assert!(v.signers.contains(r), "required signer present");
            }
            for s in &v.signers {
                assert!(case.verifiers.iter().any(|c| c.public_key.key_id() == *s));
            }
            // The same note, re-encoded, gives the same verdict.
            let text = Note::parse(bytes).unwrap().encode().unwrap();
            let second = verify_checkpoint(text.as_bytes(), &case.verifiers, &case.policy);
            assert_eq!(
                second.as_ref().ok(),
                Some(v),
                "re-encoded note verifies the same"
            );
        }
    } else {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        let Some(cp) = check_checkpoint_text(text) else {
            return;
        };
        if !is_valid_key_name(&cp.origin) {
            return;
        }
        let key = &pool()[0];
        let Ok(note) = cp.sign_deterministic(&[(cp.origin.as_str(), key)]) else {
            return;
        };
        let verifiers = [CheckpointVerifier {
            name: cp.origin.clone(),
            public_key: key.public_key().clone(),
        }];
        let v = verify_checkpoint(
            note.as_bytes(),
            &verifiers,
            &CheckpointPolicy::new(&cp.origin),
        )
        .expect("a checkpoint signed by the trusted key verifies");
        assert_eq!(
            (v.size, v.root, &v.extensions),
            (cp.size, cp.root, &cp.extensions)
        );
        assert_eq!(v.signers, vec![key.public_key().key_id()]);
        // A policy for another origin refuses it.
        let other = format!("{}.other", cp.origin);
        assert!(
            verify_checkpoint(note.as_bytes(), &verifiers, &CheckpointPolicy::new(&other)).is_err()
        );
    }
});
