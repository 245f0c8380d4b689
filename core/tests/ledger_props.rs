//! Property tests: ledger parsers and verifiers return errors on random and mutated input,
//! never panic, and accept nothing but canonical encodings.

mod support;

use cairn_core::crypto::{Algorithm, KeyId, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::ledger::*;
use cairn_core::trust::{Role, RoleSet};
use proptest::prelude::*;
use support::mutate::{apply, mutation};

fn log_key() -> SigningKey {
    SigningKey::from_seed(Algorithm::Ed25519, &[0x11; 32])
}

fn sample() -> Vec<Vec<u8>> {
    let k = SigningKey::from_seed(Algorithm::Ed25519, &[0x21; 32]);
    let events = vec![
        Event::KeyAdded {
            public_key: k.public_key().clone(),
            label: "issuer".into(),
            roles: RoleSet::of(&[Role::TokenIssuer]),
            expires_at: None,
        },
        Event::ManifestSigned {
            manifest_digest: [1; 32],
            artifact_name: "a.tar".into(),
            artifact_sha256: [2; 32],
            signers: vec![KeyId([3; 32]), KeyId([4; 32])],
        },
        Event::TokenIssued {
            token_id: [5; 32],
            issuer: k.public_key().key_id(),
            audience: "svc".into(),
            expires_at: 1_900_000_000,
        },
        Event::AuditNote {
            text: "note".into(),
        },
    ];
    let mut head = ChainHead::GENESIS;
    events
        .into_iter()
        .map(|ev| {
            let e = head.next_entry(1_767_225_600 + head.next_seq, ev);
            head = verify_chain([&e], Some(head)).unwrap();
            e.to_bytes()
        })
        .collect()
}

fn signed_sample() -> &'static (SigningKey, Vec<Vec<u8>>) {
    static S: std::sync::OnceLock<(SigningKey, Vec<Vec<u8>>)> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let k = log_key();
        let envs = sample()
            .into_iter()
            .map(|b| {
                let mut env = Envelope::new(LEDGER_ENTRY_TYPE, b).unwrap();
                env.sign_deterministic(&k).unwrap();
                env.to_compact()
            })
            .collect();
        (k, envs)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(e) = LedgerEntry::from_bytes(&bytes) {
            prop_assert_eq!(e.to_bytes(), bytes.clone());
        }
        let mut with_version = bytes.clone();
        with_version.insert(0, LEDGER_ENTRY_VERSION);
        if let Ok(e) = LedgerEntry::from_bytes(&with_version) {
            prop_assert_eq!(e.to_bytes(), with_version.clone());
        }
        let _ = verify_chain_bytes([bytes.as_slice(), with_version.as_slice()], None);
        if let Ok(env) = Envelope::parse(&bytes) {
            let _ = verify_entry(&env, &[log_key().public_key().clone()], 1);
        }
    }

    #[test]
    fn mutated_entries_decode_only_canonically(which in 0usize..4, m in mutation()) {
        let entries = sample();
        let bytes = apply(&entries[which], &m);
        match LedgerEntry::from_bytes(&bytes) {
            Ok(e) => prop_assert_eq!(e.to_bytes(), bytes),
            Err(e) => prop_assert!(!e.detail().is_empty()),
        }
    }

    #[test]
    fn mutated_chains_are_rejected(which in 0usize..4, m in mutation()) {
        let mut entries = sample();
        let original = entries[which].clone();
        entries[which] = apply(&original, &m);
        let r = verify_chain_bytes(entries.iter().map(Vec::as_slice), None);
        // A change to the newest entry that still decodes is invisible to the chain alone
        // (the documented limit); any other change must break it.
        if entries[which] != original && which != entries.len() - 1 {
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn mutated_signed_entries_are_rejected(which in 0usize..4, m in mutation()) {
        let (k, signed) = signed_sample();
        let compact = signed[which].clone();
        let bytes = apply(&compact, &m);
        let r = Envelope::parse(&bytes).and_then(|e| verify_entry(&e, &[k.public_key().clone()], 1));
        if bytes != compact {
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn arbitrary_entries_through_the_chain_verifier(
        steps in proptest::collection::vec((0u64..6, 0u64..4, any::<bool>()), 0..12)
    ) {
        let mut v = ChainVerifier::new();
        for (seq, time, good_prev) in steps {
            let prev = if good_prev { v.head().head_hash } else { [9; 32] };
            let e = LedgerEntry::new(seq, time, prev, Event::AuditNote { text: "x".into() });
            let before = v.head();
            match v.push(&e) {
                Ok(h) => {
                    prop_assert_eq!(h, e.hash());
                    prop_assert_eq!(seq, before.next_seq);
                    prop_assert!(time >= before.last_time);
                }
                Err(_) => prop_assert_eq!(v.head(), before),
            }
        }
    }
}
