//! Property tests: random and mutated input to the store's parsers never panics.

use cairn_store::{NodeSpec, Passphrase, Sealed};
use proptest::prelude::*;

const GOOD: &str = r#"{"id": "node-1", "name": "Node", "version": "1.0.0",
  "capabilities": ["a.b", "c"], "signals": ["s"],
  "endpoints": [{"name": "api", "url": "https://n.example.test/"}],
  "provenance": {"source": "https://example.test/", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn node_spec_random_text_never_panics(text in ".{0,300}") {
        let _ = NodeSpec::from_json(&text);
    }

    #[test]
    fn node_spec_mutated_json_never_panics(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = GOOD.as_bytes().to_vec();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(spec) = NodeSpec::from_json(text) {
                // Whatever parses also validates, and round-trips.
                spec.validate().unwrap();
                prop_assert_eq!(NodeSpec::from_json(&spec.to_json()).unwrap(), spec);
            }
        }
    }

    #[test]
    fn sealed_records_from_random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        // A damaged key record decodes to an error or to a sealed secret that refuses to open.
        let affordable = |s: &Sealed| s.kdf_params().is_none_or(|p| p.memory_kib <= 64 * 1024 && p.iterations <= 4);
        if let Some(sealed) = postcard::from_bytes::<Sealed>(&bytes).ok().filter(affordable) {
            let id = cairn_core::crypto::KeyId([1; 32]);
            let _ = sealed.open(cairn_core::crypto::Algorithm::Ed25519, &id, Some(&Passphrase::new("x")));
        }
    }
}
