//! Capability tokens: issuing, delegation rules, verification, and robustness on hostile input.

use std::collections::{BTreeMap, BTreeSet};

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::Digest;
use cairn_core::token::{
    check_delegation, verify_token, ConstraintValue, TokenBuilder, TokenClaims, VerifyOptions,
    MAX_CHAIN_DEPTH,
};
use cairn_core::ErrorCode;
use proptest::prelude::*;

const NOW: u64 = 1_767_225_600;

fn key(alg: Algorithm, n: u8) -> SigningKey {
    SigningKey::from_seed(alg, &[n; 32])
}

struct Fixture {
    issuer: SigningKey,
    alice: SigningKey,
    bob: SigningKey,
    root: Envelope,
}

/// Built once: key derivation and signing are slow in unoptimised test builds.
fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(make_fixture)
}

fn make_fixture() -> Fixture {
    let issuer = key(Algorithm::Ed25519, 1);
    let alice = key(Algorithm::Ed25519, 2);
    let bob = key(Algorithm::Ed25519, 3);
    let root = TokenBuilder::new(alice.public_key().clone())
        .audience("svc")
        .capability("read")
        .capability("write")
        .constraint("max_size", ConstraintValue::Max(1000))
        .constraint(
            "env",
            ConstraintValue::OneOf(["dev", "prod"].map(String::from).into()),
        )
        .validity(NOW, NOW + 3600)
        .nonce([7; 16])
        .issue(&issuer)
        .unwrap();
    Fixture {
        issuer,
        alice,
        bob,
        root,
    }
}

fn verify(token: &Envelope, parents: &[Envelope], f: &Fixture) -> cairn_core::Result<Digest> {
    verify_token(
        token,
        parents,
        &[f.issuer.public_key().clone()],
        NOW + 10,
        &[][..],
        &VerifyOptions::default(),
    )
    .map(|v| v.id)
}

#[test]
fn builder_issues_and_delegates() {
    let f = fixture();
    assert_eq!(verify(&f.root, &[], f).unwrap(), f.root.id());
    let child = TokenBuilder::new(f.bob.public_key().clone())
        .capability("read")
        .constraint("max_size", ConstraintValue::Range { min: 1, max: 10 })
        .constraint("path", ConstraintValue::Prefix("/tmp/".into()))
        .deterministic()
        .nonce([8; 16])
        .delegate(&f.root, &f.alice)
        .unwrap();
    let c = TokenClaims::from_payload(&child.payload).unwrap();
    assert_eq!(c.audience, "svc");
    assert_eq!((c.not_before, c.expires_at), (NOW, NOW + 3600));
    assert_eq!(c.constraints.len(), 3, "parent constraints are inherited");
    assert_eq!(c.parent, Some(f.root.id()));
    assert_eq!(
        verify(&child, std::slice::from_ref(&f.root), f).unwrap(),
        child.id()
    );
}

#[test]
fn builder_refuses_what_verification_would_refuse() {
    let f = fixture();
    let b = || TokenBuilder::new(f.bob.public_key().clone()).capability("read");
    let code = |r: cairn_core::Result<Envelope>| r.unwrap_err().code();
    assert_eq!(code(b().delegate(&f.root, &f.bob)), ErrorCode::KeyMismatch);
    assert_eq!(
        code(b().capability("admin").delegate(&f.root, &f.alice)),
        ErrorCode::DelegationInvalid
    );
    assert_eq!(
        code(
            b().constraint("max_size", ConstraintValue::Max(1001))
                .delegate(&f.root, &f.alice)
        ),
        ErrorCode::DelegationInvalid
    );
    assert_eq!(
        code(b().validity(NOW, NOW + 3601).delegate(&f.root, &f.alice)),
        ErrorCode::DelegationInvalid
    );
    assert_eq!(
        code(b().audience("other").delegate(&f.root, &f.alice)),
        ErrorCode::DelegationInvalid
    );
    assert_eq!(
        code(b().validity(NOW, NOW + 1).issue(&f.issuer)),
        ErrorCode::Malformed,
        "a root token needs an audience"
    );
    assert_eq!(
        code(b().audience("svc").issue(&f.issuer)),
        ErrorCode::Malformed,
        "a root token needs a validity"
    );
    assert_eq!(
        code(
            TokenBuilder::new(f.bob.public_key().clone())
                .audience("svc")
                .validity(NOW, NOW + 1)
                .issue(&f.issuer)
        ),
        ErrorCode::Malformed,
        "no capability"
    );
    assert_eq!(
        code(b().audience("svc").validity(NOW, NOW).issue(&f.issuer)),
        ErrorCode::Malformed,
        "empty validity"
    );
    assert_eq!(
        code(
            b().audience("svc")
                .validity(NOW, NOW + 1)
                .constraint("r", ConstraintValue::Range { min: 3, max: 2 })
                .issue(&f.issuer)
        ),
        ErrorCode::Malformed
    );
}

#[test]
fn random_nonces_give_distinct_ids() {
    let f = fixture();
    let make = || {
        TokenBuilder::new(f.bob.public_key().clone())
            .audience("svc")
            .capability("read")
            .validity(NOW, NOW + 1)
            .issue(&f.issuer)
            .unwrap()
    };
    assert_ne!(make().id(), make().id());
}

#[test]
fn revocation_sources() {
    let f = fixture();
    let trusted = [f.issuer.public_key().clone()];
    let opts = VerifyOptions::default();
    let id = f.root.id();
    let set: BTreeSet<Digest> = [id].into();
    let list = vec![id];
    let closure = |d: &Digest| d == &id;
    for revoked in [
        verify_token(&f.root, &[], &trusted, NOW, &set, &opts),
        verify_token(&f.root, &[], &trusted, NOW, &list, &opts),
        verify_token(&f.root, &[], &trusted, NOW, &closure, &opts),
    ] {
        assert_eq!(revoked.unwrap_err().code(), ErrorCode::Revoked);
    }
    let none = |_: &Digest| false;
    assert!(verify_token(&f.root, &[], &trusted, NOW, &none, &opts).is_ok());
}

#[test]
fn chain_depth_limit() {
    let f = fixture();
    let keys: Vec<SigningKey> = (10..20).map(|n| key(Algorithm::Ed25519, n)).collect();
    let mut chain = vec![TokenBuilder::new(keys[0].public_key().clone())
        .audience("svc")
        .capability("read")
        .validity(NOW, NOW + 3600)
        .issue(&f.issuer)
        .unwrap()];
    for i in 1..=MAX_CHAIN_DEPTH + 1 {
        let next = TokenBuilder::new(keys[i].public_key().clone())
            .capability("read")
            .delegate(chain.last().unwrap(), &keys[i - 1])
            .unwrap();
        chain.push(next);
    }
    let d = MAX_CHAIN_DEPTH;
    assert!(verify(&chain[d], &chain[..d], f).is_ok());
    assert_eq!(
        verify(&chain[d + 1], &chain[..d + 1], f)
            .unwrap_err()
            .code(),
        ErrorCode::TooLarge
    );
}

#[test]
fn json_views() {
    let f = fixture();
    let v = verify_token(
        &f.root,
        &[],
        &[f.issuer.public_key().clone()],
        NOW,
        &[][..],
        &VerifyOptions::default(),
    )
    .unwrap();
    let j = v.to_json();
    assert_eq!(j["claims"]["audience"], "svc");
    assert_eq!(j["claims"]["constraints"]["max_size"]["max"], 1000);
    assert_eq!(j["claims"]["nonce"], "07".repeat(16));
    assert_eq!(j["claims"]["parent"], serde_json::Value::Null);
    assert_eq!(j["issuer"], f.issuer.public_key().key_id().to_hex());
}

#[test]
fn check_delegation_is_usable_on_its_own() {
    let f = fixture();
    let parent = TokenClaims::from_payload(&f.root.payload).unwrap();
    let mut child = parent.clone();
    child.issuer = f.alice.public_key().key_id();
    child.parent = Some(f.root.id());
    assert!(check_delegation(&child, &parent, &f.root.id()).is_ok());
    child.constraints = BTreeMap::new();
    assert_eq!(
        check_delegation(&child, &parent, &f.root.id())
            .unwrap_err()
            .code(),
        ErrorCode::DelegationInvalid
    );
}

fn constraint_strategy() -> impl Strategy<Value = ConstraintValue> {
    let word = prop::sample::select(vec!["", "a", "ab", "abc", "b", "ba", "c"]);
    prop_oneof![
        (0u64..20).prop_map(ConstraintValue::Max),
        (0u64..20).prop_map(ConstraintValue::Min),
        (0u64..20, 0u64..20).prop_map(|(a, b)| ConstraintValue::Range {
            min: a.min(b),
            max: a.max(b)
        }),
        word.clone().prop_map(|w| ConstraintValue::Exact(w.into())),
        prop::collection::btree_set(word.clone().prop_map(String::from), 1..4)
            .prop_map(ConstraintValue::OneOf),
        word.prop_map(|w| ConstraintValue::Prefix(w.into())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Soundness of narrowing: whatever a narrower constraint allows, its parent allows.
    #[test]
    fn narrower_constraints_allow_nothing_new(
        child in constraint_strategy(),
        parent in constraint_strategy(),
        n in 0u64..25,
        s in prop::sample::select(vec!["", "a", "ab", "abc", "abd", "b", "ba", "c", "zz"]),
    ) {
        prop_assert!(child.is_within(&child));
        if child.is_within(&parent) {
            prop_assert!(!child.allows_number(n) || parent.allows_number(n));
            prop_assert!(!child.allows_text(s) || parent.allows_text(s));
        }
    }

    #[test]
    fn claims_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = TokenClaims::from_payload(&bytes);
        let mut with_version = vec![1u8];
        with_version.extend_from_slice(&bytes);
        if let Ok(c) = TokenClaims::from_payload(&with_version) {
            prop_assert_eq!(c.to_payload().unwrap(), with_version);
        }
    }

    #[test]
    fn random_envelopes_never_verify(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let f = fixture();
        let trusted = [f.issuer.public_key().clone()];
        let mut framed = b"CDSE".to_vec();
        framed.extend_from_slice(&bytes);
        for input in [&bytes, &framed] {
            if let Ok(env) = Envelope::parse(input) {
                let r = verify_token(&env, &[], &trusted, NOW, &[][..], &VerifyOptions::default());
                prop_assert!(r.is_err());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any change to a valid token's bytes, or to its parent's, is refused.
    #[test]
    fn mutated_tokens_are_refused(
        which in 0usize..2,
        index in any::<prop::sample::Index>(),
        bit in 0u8..8,
        cut in any::<prop::sample::Index>(),
        mode in 0u8..3,
    ) {
        let f = fixture();
        static CHILD: std::sync::OnceLock<Envelope> = std::sync::OnceLock::new();
        let child = CHILD.get_or_init(|| {
            TokenBuilder::new(f.bob.public_key().clone())
                .capability("read")
                .nonce([9; 16])
                .delegate(&f.root, &f.alice)
                .unwrap()
        });
        let mut bytes = [f.root.to_compact(), child.to_compact()];
        let target = &mut bytes[which];
        match mode {
            0 => { let i = index.index(target.len()); target[i] ^= 1 << bit; }
            1 => { let n = cut.index(target.len()); target.truncate(n); }
            _ => { let i = index.index(target.len() + 1); target.insert(i, bit); }
        }
        let parsed = (Envelope::parse(&bytes[0]), Envelope::parse(&bytes[1]));
        if let (Ok(root), Ok(token)) = parsed {
            prop_assert!(verify(&token, &[root], f).is_err());
        }
    }
}
