//! Property tests: random and mutated bytes never make the envelope parsers or the verifier
//! panic, and every mutation of a signed envelope is either rejected or leaves it valid
//! only when the mutation did not touch signed bytes.

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use proptest::prelude::*;

const TYPE: &str = "application/vnd.cairn.example.v1+postcard";

fn signed() -> (Envelope, SigningKey) {
    let k = SigningKey::from_seed(Algorithm::Ed25519, &[5; 32]);
    let mut env = Envelope::new(TYPE, b"property test payload".to_vec()).unwrap();
    env.sign_deterministic(&k).unwrap();
    (env, k)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Envelope::from_compact(&bytes);
        let _ = Envelope::parse(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = Envelope::from_json(text);
        }
    }

    #[test]
    fn mutated_compact_envelopes_are_rejected(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (env, k) = signed();
        let mut bytes = env.to_compact();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let keys = [k.public_key().clone()];
        if let Ok(parsed) = Envelope::from_compact(&bytes) {
            prop_assert!(parsed.verify(TYPE, &keys, 1).is_err(), "mutation at byte {} accepted", i);
        }
    }

    #[test]
    fn truncated_compact_envelopes_are_rejected(cut in 0usize..200) {
        let (env, _) = signed();
        let bytes = env.to_compact();
        let n = cut.min(bytes.len() - 1);
        prop_assert!(Envelope::from_compact(&bytes[..n]).is_err());
    }
}
