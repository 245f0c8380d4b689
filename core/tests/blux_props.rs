//! Property tests: random and mutated input into every blux parser and verifier returns a
//! verdict and never panics; canonical JSON is a fixed point; nesting depth is bounded.

mod blux_support;

use blux_support::*;
use cairn_core::blux::{
    canonical_json, parse_iso8601_micros, parse_json, token_hash, verify_ledger, verify_manifest,
    verify_token, TokenPolicy,
};
use cairn_core::crypto::{pem, PublicKey};
use cairn_core::encoding::sha256;
use cairn_core::ErrorCode;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Applies byte-level edits to `base` and returns the result as text (lossy UTF-8, since
/// every entry point takes text).
fn mutate(base: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut b = base.as_bytes().to_vec();
    for &(pos, kind, byte) in edits {
        if b.is_empty() {
            b.push(byte);
            continue;
        }
        let i = pos % b.len();
        match kind % 4 {
            0 => b[i] = byte,
            1 => {
                b.remove(i);
            }
            2 => b.insert(i, byte),
            _ => b.truncate(i),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    // Bytes biased toward JSON syntax so mutations reach deep into the parsers.
    let byte = prop_oneof![
        prop::sample::select(b"{}[]\",:\\ 0123456789.-eEnulltrufasNIy\n\r\t=+/".to_vec()),
        any::<u8>(),
    ];
    prop::collection::vec((any::<usize>(), any::<u8>(), byte), 1..6)
}

fn keys() -> Vec<PublicKey> {
    vec![
        pem::public_key_from_pem(&fixture("signer.pub.pem")).unwrap(),
        pem::public_key_from_pem(&fixture("other.pub.pem")).unwrap(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_text_never_panics(text in ".{0,200}") {
        let _ = parse_json(&text).map(|v| canonical_json(&v));
        let _ = verify_token(&text, 0, Some(&text), &TokenPolicy::any_issuer());
        let _ = verify_manifest(&text, &[0; 32], &keys());
        let _ = verify_ledger(&text);
        let _ = parse_iso8601_micros(&text);
        let _ = token_hash(&text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_json(&text);
        let _ = verify_ledger(&text);
        let _ = verify_token(&text, u64::MAX, None, &TokenPolicy::any_issuer());
    }

    #[test]
    fn mutated_tokens_give_verdicts(e in edits(), which in 0usize..4, now in any::<u64>()) {
        let name = ["token_basic.json", "token_unicode.json", "token_floats.json", "token_revoked.json"][which];
        let text = mutate(&fixture(name), &e);
        let revocations = fixture("token_revocations.jsonl");
        let policy = TokenPolicy::trusted_keys(&keys());
        if let Ok(v) = verify_token(&text, now, Some(&revocations), &policy) {
            // Anything accepted must still be signed by the fixture signer.
            prop_assert_eq!(&v.issuer_key, &keys()[0]);
        }
    }

    #[test]
    fn mutated_revocations_give_verdicts(e in edits()) {
        let text = fixture("token_revoked.json");
        let revocations = mutate(&fixture("token_revocations.jsonl"), &e);
        let now = unix("2026-01-20T14:08:00+00:00");
        let r = verify_token(&text, now, Some(&revocations), &TokenPolicy::any_issuer());
        if let Err(err) = r {
            prop_assert!(matches!(err.code(), ErrorCode::Revoked | ErrorCode::Malformed | ErrorCode::TooLarge));
        }
    }

    #[test]
    fn mutated_manifests_give_verdicts(e in edits()) {
        let text = mutate(&fixture("artifact.txt.blux-manifest.json"), &e);
        let digest = sha256(&[&fixture_bytes("artifact.txt")]);
        let original = verify_manifest(&fixture("artifact.txt.blux-manifest.json"), &digest, &keys()).unwrap();
        if let Ok(v) = verify_manifest(&text, &digest, &keys()) {
            // Anything accepted must still be the fixture signer's manifest of this artifact.
            prop_assert_eq!(v.key_fingerprint, original.key_fingerprint);
            prop_assert_eq!(v.artifact_sha256, digest);
            prop_assert_eq!(v.artifact_path, original.artifact_path);
        }
    }

    #[test]
    fn mutated_ledgers_give_verdicts(e in edits()) {
        let original = fixture("ledger.jsonl");
        let text = mutate(&original, &e);
        if let Ok(s) = verify_ledger(&text) {
            // A mutation cannot forge hashes: whatever still verifies is at most the
            // original chain (or a prefix, or one with formatting-only changes).
            prop_assert!(s.entries <= 10);
        }
    }

    #[test]
    fn mutated_json_round_trips(e in edits(), which in 0usize..3) {
        let name = ["token_unicode.json", "token_floats.json", "ledger.jsonl"][which];
        let text = mutate(&fixture(name), &e);
        if let Ok(v) = parse_json(&text) {
            let once = canonical_json(&v);
            prop_assert!(once.is_ascii());
            let again = canonical_json(&parse_json(&once).unwrap());
            prop_assert_eq!(once, again);
        }
    }

    #[test]
    fn floats_round_trip(bits in any::<u64>()) {
        let f = f64::from_bits(bits);
        let text = cairn_core::blux::python_float_repr(f);
        let v = parse_json(&text).unwrap();
        prop_assert_eq!(canonical_json(&v), text.clone());
        if f.is_finite() {
            prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), bits);
        }
    }

    #[test]
    fn strings_round_trip(s in "\\PC{0,40}") {
        let v = cairn_core::blux::Value::from(s.as_str());
        let text = canonical_json(&v);
        prop_assert!(text.is_ascii());
        prop_assert_eq!(parse_json(&text).unwrap(), v);
    }
}

#[test]
fn deep_nesting_is_bounded() {
    for depth in [129usize, 1_000, 100_000] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let text = open.repeat(depth) + "1" + &close.repeat(depth);
            assert_eq!(parse_json(&text).unwrap_err().code(), ErrorCode::TooLarge);
            assert_eq!(
                verify_ledger(&text).unwrap_err().code(),
                ErrorCode::TooLarge
            );
            assert_eq!(
                verify_token(&text, 0, None, &TokenPolicy::any_issuer())
                    .unwrap_err()
                    .code(),
                ErrorCode::TooLarge
            );
        }
    }
    let ok = "[".repeat(128) + &"]".repeat(128);
    assert!(parse_json(&ok).is_ok());
}
