//! DSSE envelopes, compact (CDSE) and JSON forms.
//!
//! Mode 0 (even): the first record is an envelope in either form, verified against the keys,
//! payload type and threshold of dsse.json case `flags`. Invariants: both forms round-trip to
//! an equal envelope; an accepted compact input is the canonical encoding of what it decoded
//! to; a verified envelope has at least `threshold` distinct signers, all from the key set,
//! and re-verifies to the same result from either form.
//!
//! Mode 1 (odd): the decoded envelope's signatures are replaced by one from a fixed trusted
//! key; it must then verify under its own payload type, in both forms.
#![no_main]

use std::sync::OnceLock;

use cairn_core::crypto::PublicKey;
use cairn_core::dsse::Envelope;
use cairn_fuzz::{cases, key_from_json, pick, pool, vectors, Input};
use libfuzzer_sys::fuzz_target;

struct Case {
    keys: Vec<PublicKey>,
    payload_type: String,
    threshold: usize,
}

fn fixtures() -> &'static [Case] {
    static F: OnceLock<Vec<Case>> = OnceLock::new();
    F.get_or_init(|| {
        cases(vectors::DSSE)
            .iter()
            .map(|c| Case {
                keys: c["args"]["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(key_from_json)
                    .collect(),
                payload_type: c["args"]["payload_type"].as_str().unwrap().into(),
                threshold: c["args"]["threshold"].as_u64().unwrap() as usize,
            })
            .collect()
    })
}

/// Both encodings decode back to an equal envelope.
fn check_round_trips(env: &Envelope) {
    let compact = env.to_compact();
    let back = Envelope::from_compact(&compact).expect("compact form of a parsed envelope parses");
    assert_eq!(&back, env, "compact round trip");
    assert_eq!(back.to_compact(), compact);
    assert_eq!(back.id(), env.id());
    let json = env.to_json();
    let back = Envelope::from_json(&json).expect("JSON form of a parsed envelope parses");
    assert_eq!(&back, env, "JSON round trip");
    assert_eq!(Envelope::parse(json.as_bytes()).ok().as_ref(), Some(env));
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let Some(bytes) = input.records.first() else {
        return;
    };
    let Ok(env) = Envelope::parse(bytes) else {
        return;
    };
    if bytes.starts_with(b"CDSE") {
        assert_eq!(
            &env.to_compact(),
            bytes,
            "accepted compact input is canonical"
        );
    }
    check_round_trips(&env);

    if input.mode % 2 == 0 {
        let case = pick(fixtures(), input.flags);
        let first = env.verify(&case.payload_type, &case.keys, case.threshold);
        if let Ok(v) = &first {
            assert!(v.signers.len() >= case.threshold);
            for (i, s) in v.signers.iter().enumerate() {
                assert!(
                    case.keys.iter().any(|k| k.key_id() == *s),
                    "signer in key set"
                );
                assert!(!v.signers[..i].contains(s), "signers are distinct");
            }
            assert_eq!(v.payload, &env.payload[..]);
        }
        // Verification depends on the envelope, not on the form it arrived in.
        let again = Envelope::from_json(&env.to_json()).unwrap();
        let second = again.verify(&case.payload_type, &case.keys, case.threshold);
        assert_eq!(
            first.as_ref().map(|v| &v.signers).map_err(|e| e.code()),
            second.as_ref().map(|v| &v.signers).map_err(|e| e.code()),
            "same verdict from the JSON form"
        );
    } else {
        let key = &pool()[0];
        let mut env = env;
        env.signatures.clear();
        env.sign_deterministic(key)
            .expect("signing a parsed envelope");
        let keys = [key.public_key().clone()];
        let v = env
            .verify(&env.payload_type, &keys, 1)
            .expect("an envelope signed by a trusted key verifies");
        assert_eq!(v.signers, vec![key.public_key().key_id()]);
        let json = Envelope::from_json(&env.to_json()).unwrap();
        assert!(json.verify(&env.payload_type, &keys, 1).is_ok());
        let compact = Envelope::from_compact(&env.to_compact()).unwrap();
        assert!(compact.verify(&env.payload_type, &keys, 1).is_ok());
        // Another payload type must not accept it (domain separation).
        let other = format!("{}x", env.payload_type);
        assert!(env.verify(&other, &keys, 1).is_err());
    }
});
