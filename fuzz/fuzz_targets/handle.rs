//! The handle registry's formats (cairn-core feature `handle`): handle normalisation, envelopes
//! and proof-of-work challenges and solutions.
//!
//! Records: record 0 is normalised as a handle (lossy UTF-8); record 1 is parsed as an envelope
//! and opened with a keyring of both suites (X25519 and X-Wing; purpose `register`, empty aad);
//! record 2 is decoded as a challenge (binary and text) and as a solution, and the solution
//! verified at `now` with the vectors' secret.
//!
//! Invariants: nothing panics; normalising is idempotent and its result is within the handle
//! limits; a parsed envelope encodes back to the same bytes; a decoded challenge or solution
//! encodes back to an input that decodes to the same value; a solution that verifies has the
//! difficulty's leading zero bits and an expiry not before `now`.
#![no_main]

use std::sync::OnceLock;

use cairn_core::handle::{
    leading_zero_bits, normalise, verify, work_hash, Challenge, Envelope, EnvelopeSecretKey,
    Keyring, PowSecret, Solution, Suite,
};
use cairn_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fn keyring() -> &'static Keyring {
    static K: OnceLock<Keyring> = OnceLock::new();
    K.get_or_init(|| {
        let key = |suite, b: u8| {
            EnvelopeSecretKey::from_bytes(suite, None, &[b; 32]).expect("a fixed secret key")
        };
        let (x25519, xwing) = (Suite::X25519ChaCha20Poly1305, Suite::XWingChaCha20Poly1305);
        Keyring::with_actives(
            vec![key(x25519, 0x10), key(xwing, 0x30)],
            vec![key(x25519, 0x20)],
        )
        .expect("distinct kids, one active key per suite")
    })
}

fn secret() -> &'static PowSecret {
    static S: OnceLock<PowSecret> = OnceLock::new();
    S.get_or_init(|| PowSecret::from_bytes(&[0x44; 32]).expect("a fixed secret"))
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let rec = |i: usize| input.records.get(i).map(Vec::as_slice);
    if let Some(b) = rec(0) {
        let text = String::from_utf8_lossy(b);
        if let Ok(h) = normalise(&text) {
            let again = normalise(h.as_str()).expect("a normalised handle normalises");
            assert_eq!(again.as_str(), h.as_str(), "normalising is idempotent");
            assert!(h.as_str().is_ascii() && h.as_str().len() <= 256);
        }
    }
    if let Some(b) = rec(1) {
        if let Ok(e) = Envelope::parse(b) {
            assert_eq!(e.to_bytes(), b, "an envelope has one encoding");
        }
        let _ = keyring().open(b"register", b"", b);
    }
    if let Some(b) = rec(2) {
        if let Ok(c) = Challenge::from_bytes(b) {
            assert_eq!(c.to_bytes().as_slice(), b, "a challenge has one encoding");
        }
        if let Ok(text) = std::str::from_utf8(b) {
            if let Ok(c) = Challenge::decode(text) {
                assert_eq!(Challenge::decode(&c.encode()).ok(), Some(c.clone()));
            }
            if let Ok(s) = Solution::decode(text) {
                assert_eq!(Solution::decode(&s.encode()).ok(), Some(s.clone()));
                if verify(&s.challenge, s.counter, secret(), input.now).is_ok() {
                    let bits = leading_zero_bits(&work_hash(&s.challenge, s.counter));
                    assert!(bits >= u32::from(s.challenge.difficulty()));
                    assert!(s.challenge.expires() >= input.now);
                }
            }
        }
    }
});
