//! Property tests: random and mutated bytes fed to every crypto parser and verifier return
//! errors (or, for random keys of the right length, sometimes a key), and never panic.

use cairn_core::crypto::{
    pem, verify_signature, Algorithm, KeyId, PublicKey, Signature, SigningKey,
};
use cairn_core::encoding::b64_encode;
use proptest::prelude::*;

fn any_alg() -> impl Strategy<Value = Algorithm> {
    proptest::sample::select(Algorithm::ALL.to_vec())
}

fn pq_or_hybrid() -> impl Strategy<Value = Algorithm> {
    proptest::sample::select(vec![
        Algorithm::Ed25519,
        Algorithm::MlDsa44,
        Algorithm::MlDsa65,
        Algorithm::Ed25519MlDsa44,
        Algorithm::Ed25519MlDsa65,
    ])
}

/// Bytes of exactly `len` or of a random length near it.
fn bytes_around(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), len..=len),
        proptest::collection::vec(any::<u8>(), 0..len + 64),
    ]
}

fn pem_text(label: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 0..300).prop_map(move |der| {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            b64_encode(&der)
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn names_ids_and_key_ids(name in ".{0,24}", id in any::<u8>(), hex in "[0-9a-fA-Fg]{0,70}") {
        let _ = Algorithm::parse(&name);
        let _ = Algorithm::from_id(id);
        let _ = KeyId::from_hex(&hex);
    }

    #[test]
    fn random_ed25519_keys(bytes in bytes_around(32)) {
        if let Ok(pk) = PublicKey::from_bytes(Algorithm::Ed25519, &bytes) {
            prop_assert_eq!(pk.as_bytes(), &bytes[..]);
            let sig = Signature::from_bytes(Algorithm::Ed25519, &[0x42; 64]).unwrap();
            prop_assert!(pk.verify(b"m", b"", &sig).is_err());
        }
    }

    #[test]
    fn random_ed25519_signatures(sig in bytes_around(64), msg in proptest::collection::vec(any::<u8>(), 0..64)) {
        let sk = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
        prop_assert!(verify_signature(Algorithm::Ed25519, sk.public_key().as_bytes(), &msg, b"", &sig).is_err());
    }

    #[test]
    fn random_pem_text(text in ".{0,400}", pub_pem in pem_text("PUBLIC KEY"), priv_pem in pem_text("PRIVATE KEY")) {
        prop_assert!(pem::public_key_from_pem(&text).is_err());
        prop_assert!(pem::signing_key_from_pem(&text).is_err());
        let _ = pem::public_key_from_pem(&pub_pem);
        let _ = pem::signing_key_from_pem(&priv_pem);
    }

    #[test]
    fn random_der(der in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = pem::public_key_from_der(&der);
        let _ = pem::signing_key_from_der(&der);
    }

    #[test]
    fn random_serde(json in ".{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = serde_json::from_str::<PublicKey>(&json);
        let _ = serde_json::from_str::<Algorithm>(&json);
        let _ = serde_json::from_str::<KeyId>(&json);
        let _ = postcard::from_bytes::<PublicKey>(&bytes);
        let _ = postcard::from_bytes::<Algorithm>(&bytes);
    }
}

proptest! {
    // ML-DSA verification is slow in debug builds: fewer cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_keys_and_signatures(alg in any_alg(), noise in proptest::collection::vec(any::<u8>(), 64)) {
        // Random bytes of the right length (and of wrong lengths) as key and signature.
        let stretch = |n: usize, salt: u8| -> Vec<u8> {
            (0..n).map(|i| noise[i % noise.len()] ^ (i / noise.len()) as u8 ^ salt).collect()
        };
        let pk = stretch(alg.public_key_len(), 0);
        let sig = stretch(alg.signature_len(), 0x5c);
        prop_assert!(verify_signature(alg, &pk, b"msg", b"ctx", &sig).is_err());
        prop_assert!(verify_signature(alg, &pk[..pk.len() / 2], b"msg", b"ctx", &sig).is_err());
        prop_assert!(verify_signature(alg, &pk, b"msg", b"ctx", &sig[..sig.len() - 1]).is_err());
        if let Ok(k) = PublicKey::from_bytes(alg, &pk) {
            prop_assert_eq!(k.key_id(), KeyId::compute(alg, &pk));
        }
    }

    #[test]
    fn mutated_signatures_fail(alg in pq_or_hybrid(), pos in any::<prop::sample::Index>(), bit in 0u8..8, ctx in proptest::collection::vec(any::<u8>(), 0..40)) {
        let sk = SigningKey::from_seed(alg, &[alg.id(); 32]);
        let sig = sk.sign_deterministic(b"message", &ctx).unwrap();
        let mut bytes = sig.into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(verify_signature(alg, sk.public_key().as_bytes(), b"message", &ctx, &bytes).is_err());
    }

    #[test]
    fn mutated_keys_fail_or_differ(alg in pq_or_hybrid(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let sk = SigningKey::from_seed(alg, &[alg.id(); 32]);
        let sig = sk.sign_deterministic(b"message", b"").unwrap();
        let mut pk = sk.public_key().as_bytes().to_vec();
        let i = pos.index(pk.len());
        pk[i] ^= 1 << bit;
        prop_assert!(verify_signature(alg, &pk, b"message", b"", sig.as_bytes()).is_err());
    }

    #[test]
    fn mutated_pem_never_panics(alg in proptest::sample::select(vec![Algorithm::Ed25519, Algorithm::MlDsa44, Algorithm::MlDsa65]), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let sk = SigningKey::from_seed(alg, &[7; 32]);
        for text in [
            pem::signing_key_to_pem(&sk).unwrap().to_string(),
            pem::public_key_to_pem(sk.public_key()).unwrap(),
        ] {
            let mut b = text.into_bytes();
            let i = pos.index(b.len());
            b[i] = byte;
            if let Ok(t) = String::from_utf8(b) {
                let _ = pem::public_key_from_pem(&t);
                let _ = pem::signing_key_from_pem(&t);
            }
        }
        let mut der = pem::signing_key_to_der(&sk).unwrap().to_vec();
        let i = pos.index(der.len());
        der[i] = byte;
        let _ = pem::signing_key_from_der(&der);
        let mut der = pem::public_key_to_der(sk.public_key()).unwrap();
        let i = pos.index(der.len());
        der[i] = byte;
        let _ = pem::public_key_from_der(&der);
    }
}
