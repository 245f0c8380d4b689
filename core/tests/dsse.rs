//! DSSE envelope behaviour: PAE, thresholds, tampering, both encodings.

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::{pae, Envelope};
use cairn_core::encoding::b64_encode;
use cairn_core::ErrorCode;

fn key(n: u8, alg: Algorithm) -> SigningKey {
    SigningKey::from_seed(alg, &[n; 32])
}

fn signed(keys: &[&SigningKey]) -> Envelope {
    let mut env = Envelope::new("application/test", b"body".to_vec()).unwrap();
    for k in keys {
        env.sign(k).unwrap();
    }
    env
}

#[test]
fn pae_matches_dsse_spec_example() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
}

#[test]
fn threshold_counts_distinct_valid_signers() {
    let (a, b, c) = (
        key(1, Algorithm::Ed25519),
        key(2, Algorithm::MlDsa44),
        key(3, Algorithm::Ed25519MlDsa65),
    );
    let keys = [
        a.public_key().clone(),
        b.public_key().clone(),
        c.public_key().clone(),
    ];
    let env = signed(&[&a, &b]);
    assert_eq!(
        env.verify("application/test", &keys, 2)
            .unwrap()
            .signers
            .len(),
        2
    );
    assert_eq!(
        env.verify("application/test", &keys, 3).unwrap_err().code(),
        ErrorCode::ThresholdNotMet
    );
    assert_eq!(
        env.verify("application/other", &keys, 1)
            .unwrap_err()
            .code(),
        ErrorCode::DomainMismatch
    );
    assert_eq!(
        env.verify("application/test", &keys[2..], 1)
            .unwrap_err()
            .code(),
        ErrorCode::UnknownKey
    );
    assert_eq!(
        env.verify("application/test", &keys, 0).unwrap_err().code(),
        ErrorCode::Malformed
    );
    // The payload type is judged first: another type is domain_mismatch whatever the
    // threshold.
    assert_eq!(
        env.verify("application/other", &keys, 0)
            .unwrap_err()
            .code(),
        ErrorCode::DomainMismatch
    );
}

#[test]
fn duplicated_signature_counts_once() {
    let a = key(1, Algorithm::Ed25519);
    let mut env = signed(&[&a]);
    env.signatures.push(env.signatures[0].clone());
    let keys = [a.public_key().clone()];
    assert_eq!(
        env.verify("application/test", &keys, 2).unwrap_err().code(),
        ErrorCode::ThresholdNotMet
    );
}

#[test]
fn tampering_is_detected() {
    let a = key(1, Algorithm::Ed25519MlDsa44);
    let keys = [a.public_key().clone()];
    let env = signed(&[&a]);
    let mut bad = env.clone();
    bad.payload[0] ^= 1;
    assert_eq!(
        bad.verify("application/test", &keys, 1).unwrap_err().code(),
        ErrorCode::SignatureInvalid
    );
    let mut bad = env.clone();
    bad.signatures[0].sig.pop();
    assert_eq!(
        bad.verify("application/test", &keys, 1).unwrap_err().code(),
        ErrorCode::SignatureInvalid
    );
    // The ML-DSA half uses the payload type as context: re-labelling fails even though
    // PAE would also change; here we flip only the last byte (inside the ML-DSA half).
    let mut bad = env;
    let n = bad.signatures[0].sig.len();
    bad.signatures[0].sig[n - 1] ^= 0x80;
    assert_eq!(
        bad.verify("application/test", &keys, 1).unwrap_err().code(),
        ErrorCode::SignatureInvalid
    );
}

#[test]
fn json_and_compact_round_trip() {
    let a = key(1, Algorithm::Ed25519);
    let env = signed(&[&a]);
    let json = env.to_json();
    assert_eq!(Envelope::from_json(&json).unwrap(), env);
    assert_eq!(Envelope::parse(json.as_bytes()).unwrap(), env);
    let compact = env.to_compact();
    assert_eq!(Envelope::from_compact(&compact).unwrap(), env);
    assert_eq!(Envelope::parse(&compact).unwrap(), env);
    let mut trailing = compact.clone();
    trailing.push(0);
    assert_eq!(
        Envelope::from_compact(&trailing).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert!(Envelope::from_compact(&compact[..compact.len() - 1]).is_err());
    assert!(Envelope::from_compact(&compact[4..]).is_err());
}

#[test]
fn json_accepts_any_member_order_and_whitespace() {
    let a = key(1, Algorithm::Ed25519);
    let env = signed(&[&a]);
    let text = format!(
        "{{ \"signatures\" : [ {{\"sig\": \"{}\", \"keyid\": \"{}\"}} ],\n \"payloadType\": \"application/test\", \"payload\": \"{}\" }}",
        b64_encode(&env.signatures[0].sig),
        env.signatures[0].keyid,
        b64_encode(&env.payload)
    );
    assert_eq!(Envelope::from_json(&text).unwrap(), env);
}
