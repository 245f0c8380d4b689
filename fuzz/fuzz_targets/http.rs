//! The credentials of an HTTP write (`cairn_core::http`, what `cairn serve` checks before any
//! write): the `Authorization` value, the `Cairn-Proof` value, and the proof's verification
//! against a fixed holder key over a fuzzed request.
//!
//! Records: the Authorization value, the Cairn-Proof value, the method, the path with its
//! query, the body. `now` is the server's clock.
//!
//! Invariants: nothing panics; a parsed proof prints back to a value that parses to the same
//! proof; a proof that verifies is exactly the holder's deterministic signature over that
//! request (nothing else verifies without the key).
#![no_main]

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::http::{parse_authorization, sign_request, verify_request_proof, RequestProof};
use cairn_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let text = |i: usize| {
        input
            .records
            .get(i)
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .unwrap_or_default()
    };
    let _ = parse_authorization(&text(0));
    let Ok(proof) = RequestProof::parse(&text(1)) else {
        return;
    };
    assert_eq!(
        RequestProof::parse(&proof.to_header()).as_ref(),
        Ok(&proof),
        "a proof prints back to itself"
    );
    let holder = SigningKey::from_seed(Algorithm::Ed25519, &[9; 32]);
    let token_id = [7u8; 32];
    let (method, path) = (text(2), text(3));
    let body = input.records.get(4).cloned().unwrap_or_default();
    let now = input.now;
    if verify_request_proof(
        holder.public_key(),
        &token_id,
        &method,
        &path,
        &body,
        &proof,
        now,
        300,
    )
    .is_ok()
    {
        let expected = sign_request(
            &holder,
            &token_id,
            &method,
            &path,
            &body,
            proof.time,
            &proof.nonce,
        )
        .unwrap();
        assert_eq!(
            expected,
            proof.to_header(),
            "only the holder's signature verifies"
        );
    }
});
