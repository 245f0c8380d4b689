//! Property tests: trust-root parsing and chain verification return errors on random and
//! mutated input and never panic.

mod support;

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::trust::*;
use proptest::prelude::*;
use support::mutate::{apply, mutation};

const T0: u64 = 1_767_225_600;

fn ed(n: u8) -> SigningKey {
    SigningKey::from_seed(Algorithm::Ed25519, &[n; 32])
}

fn tk(k: &SigningKey, roles: &[Role], label: &str) -> TrustedKey {
    TrustedKey::new(k.public_key().clone(), RoleSet::of(roles), label)
}

struct Fixture {
    v1: Envelope,
    v2: Envelope,
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(make_fixture)
}

fn make_fixture() -> Fixture {
    let (a, b, c) = (ed(1), ed(2), ed(3));
    let t = Thresholds::default()
        .with(Role::Root, 1)
        .with(Role::Checkpoint, 1);
    let r1 = TrustRoot::initial(
        "example.org/log",
        T0,
        T0 + 1000,
        vec![tk(&a, &[Role::Root], "a"), tk(&c, &[Role::Checkpoint], "c")],
        t,
    );
    let mut v1 = r1.to_envelope().unwrap();
    v1.sign_deterministic(&a).unwrap();
    let pinned = VerifiedRoot::from_pinned(&v1).unwrap();
    let r2 = pinned.successor(
        T0 + 10,
        T0 + 2000,
        vec![tk(&b, &[Role::Root], "b"), tk(&c, &[Role::Checkpoint], "c")],
        t,
    );
    let mut v2 = r2.to_envelope().unwrap();
    v2.sign_deterministic(&a).unwrap();
    v2.sign_deterministic(&b).unwrap();
    Fixture { v1, v2 }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(r) = TrustRoot::from_bytes(&bytes) {
            prop_assert_eq!(r.to_bytes(), bytes.clone());
        }
        let mut with_version = bytes.clone();
        with_version.insert(0, TRUST_ROOT_VERSION);
        let _ = TrustRoot::from_bytes(&with_version);
        if let Ok(env) = Envelope::parse(&bytes) {
            let _ = verify_trust_root(&env, T0);
        }
        let env = Envelope::new(TRUST_ROOT_TYPE, with_version).unwrap();
        prop_assert!(VerifiedRoot::from_pinned(&env).is_err());
    }

    #[test]
    fn mutated_payloads_decode_only_canonically(m in mutation()) {
        let f = fixture();
        let bytes = apply(&f.v2.payload, &m);
        if let Ok(r) = TrustRoot::from_bytes(&bytes) {
            prop_assert_eq!(r.to_bytes(), bytes);
        }
    }

    #[test]
    fn mutated_pinned_roots_are_rejected(m in mutation()) {
        let f = fixture();
        let compact = f.v1.to_compact();
        let bytes = apply(&compact, &m);
        let r = Envelope::parse(&bytes).and_then(|e| verify_trust_root(&e, T0 + 5));
        if bytes != compact {
            prop_assert!(r.is_err());
        } else {
            prop_assert!(r.is_ok());
        }
    }

    #[test]
    fn mutated_rotations_are_rejected(m in mutation()) {
        let f = fixture();
        let pinned = VerifiedRoot::from_pinned(&f.v1).unwrap();
        let compact = f.v2.to_compact();
        let bytes = apply(&compact, &m);
        let r = Envelope::parse(&bytes)
            .and_then(|e| verify_rotation_chain(&pinned, &[e], T0 + 20));
        if bytes != compact {
            prop_assert!(r.is_err());
        } else {
            prop_assert_eq!(r.unwrap().root_version, 2);
        }
    }

    #[test]
    fn chains_of_arbitrary_order_never_panic(order in proptest::collection::vec(0usize..2, 0..5), now in T0..T0 + 3000) {
        let f = fixture();
        let pinned = VerifiedRoot::from_pinned(&f.v1).unwrap();
        let all = [&f.v1, &f.v2];
        let chain: Vec<Envelope> = order.iter().map(|&i| all[i].clone()).collect();
        let r = verify_rotation_chain(&pinned, &chain, now);
        let valid = (order.is_empty() && now < T0 + 1000) || (order == [1] && now < T0 + 2000);
        prop_assert_eq!(r.is_ok(), valid);
    }
}
