//! Trust roots and rotation chains (`verify_trust_root_chain`).
//!
//! Records: the pinned root, then versions n+1, n+2, ... . `now` is the clock.
//!
//! Mode 0 (even): records are envelopes (compact or JSON) from trust.json.
//!
//! Mode 1 (odd): records are TrustRoot payloads; each is signed, before verification, by
//! every fixed key that it or the version before it lists, so mutations reach root decoding,
//! validation, version and `previous` linking, origin, time windows and thresholds.
//!
//! Invariants: every payload `TrustRoot::from_bytes` accepts is its canonical encoding and
//! validates; an accepted chain ends at the last version given (its id and version), is
//! unexpired at `now` and expired at its `expires_at`, and verifies again to the same root;
//! the pinned root alone verifies with `from_pinned`.
#![no_main]

use cairn_core::dsse::Envelope;
use cairn_core::trust::{root_id, verify_trust_root_chain, TrustRoot, VerifiedRoot};
use cairn_core::ErrorCode;
use cairn_fuzz::{sign_root_chain, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let chain: Vec<Envelope> = if input.mode % 2 == 0 {
        let Some(c) = input
            .records
            .iter()
            .map(|r| Envelope::parse(r).ok())
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        c
    } else {
        let Some(c) = sign_root_chain(&input.records) else {
            return;
        };
        c
    };
    let Some((pinned, rest)) = chain.split_first() else {
        return;
    };
    for env in &chain {
        if let Ok(root) = TrustRoot::from_bytes(&env.payload) {
            assert_eq!(
                root.to_bytes(),
                env.payload,
                "accepted trust root is canonical"
            );
            assert!(root.validate().is_ok());
            assert_eq!(root.id(), root_id(&env.payload));
        }
    }
    let now = input.now;
    let first = verify_trust_root_chain(pinned, rest, now);
    let second = verify_trust_root_chain(pinned, rest, now);
    assert_eq!(
        first.as_ref().map_err(|e| e.code()),
        second.as_ref().map_err(|e| e.code()),
        "verification is deterministic"
    );
    let Ok(v) = first else {
        return;
    };
    let last = chain.last().unwrap();
    assert_eq!(
        v.id(),
        root_id(&last.payload),
        "the chain ends at the last version"
    );
    assert_eq!(v.root(), &TrustRoot::from_bytes(&last.payload).unwrap());
    let p = VerifiedRoot::from_pinned(pinned).expect("the pinned root of an accepted chain");
    assert_eq!(v.root_version, p.root_version + rest.len() as u64);
    assert!(now < v.expires_at);
    let late = verify_trust_root_chain(pinned, rest, v.expires_at);
    assert_eq!(late.map_err(|e| e.code()).err(), Some(ErrorCode::Expired));
});
