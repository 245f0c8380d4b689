//! Ed25519 keys the service sees again and again — a holder's proofs of possession, a token
//! issuer, a peer — verified with their precomputed multiples
//! (`cairn_core::crypto::prepared`): about 1.5× faster than ed25519-dalek here, for 40 KiB per
//! key. Which keys get a table is cairn-core's [`PreparedKeys`]: at a key's third use among
//! the last 64 seen; [`KEPT`] kept (2.5 MiB), the least recently used dropped first.
//!
//! [`install`] hands cairn-core's Ed25519 equation to this module for the whole process (once;
//! `Server::start` calls it). cairn-core still checks every encoding rule first; only the way
//! `[S]B − [k]A` is computed changes, and cairn-core's tests hold its verdicts to
//! ed25519-dalek's `verify_strict`. A table is built outside the lock (two verifications'
//! time), so no other verification waits for it.

use std::sync::{Arc, Mutex};

use cairn_core::crypto::prepared::{KeyUse, PreparedEd25519Key, PreparedKeys};

/// Tables kept: more than a browser's eight, for a server's many holders.
pub const KEPT: usize = 64;

static KEYS: Mutex<PreparedKeys> = Mutex::new(PreparedKeys::with_capacity(KEPT));

fn keys() -> std::sync::MutexGuard<'static, PreparedKeys> {
    KEYS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Installs this module's equation as the process's Ed25519 equation; false if one was
/// installed already (it stays).
///
/// ```
/// cairn_service::prepared::install();
/// assert!(!cairn_service::prepared::install(), "once per process");
/// ```
pub fn install() -> bool {
    cairn_core::crypto::host::set_host_equation(equation)
}

/// The verdict of a prepared key, or `None` (ed25519-dalek decides) for a key not prepared.
fn equation(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
    let use_ = keys().count_use(pk);
    let key = match use_ {
        KeyUse::Prepared(k) => k,
        KeyUse::Counted => return None,
        KeyUse::Prepare => {
            let k = Arc::new(PreparedEd25519Key::new(pk).ok()?);
            keys().insert(k.clone());
            k
        }
    };
    Some(key.verify(msg, sig).is_ok())
}

/// Whether `pk` has a table now.
///
/// ```
/// assert!(!cairn_service::prepared::is_prepared(&[9; 32]));
/// ```
pub fn is_prepared(pk: &[u8; 32]) -> bool {
    keys().is_prepared(pk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::crypto::{Algorithm, SigningKey};

    #[test]
    fn a_key_used_again_is_prepared_and_verdicts_do_not_change() {
        install();
        let sk = SigningKey::generate(Algorithm::Ed25519);
        let pk = sk.public_key();
        let raw: [u8; 32] = pk.as_bytes().try_into().unwrap();
        let other = SigningKey::generate(Algorithm::Ed25519);
        let equation_says = |msg: &[u8], sig: &cairn_core::crypto::Signature| {
            equation(&raw, msg, sig.as_bytes().try_into().unwrap())
        };
        for i in 0..6u8 {
            let msg = [i; 40];
            let sig = sk.sign(&msg, b"ctx").unwrap();
            assert!(pk.verify(&msg, b"ctx", &sig).is_ok(), "use {i}");
            // From the third use of the key on, the prepared table decides, both ways.
            if i >= 2 {
                assert_eq!(equation_says(&msg, &sig), Some(true));
                assert_eq!(equation_says(&[i ^ 1; 40], &sig), Some(false));
            }
            // Wrong message, a flipped bit, another key's signature: refused, before and after
            // the key is prepared.
            let mut flipped = sig.as_bytes().to_vec();
            flipped[usize::from(i) % 64] ^= 0x40;
            let flipped =
                cairn_core::crypto::Signature::from_bytes(Algorithm::Ed25519, &flipped).unwrap();
            assert!(pk.verify(&[i ^ 1; 40], b"ctx", &sig).is_err());
            assert!(pk.verify(&msg, b"ctx", &flipped).is_err());
            assert!(pk
                .verify(&msg, b"ctx", &other.sign(&msg, b"ctx").unwrap())
                .is_err());
        }
        assert!(is_prepared(&raw));
    }
}
