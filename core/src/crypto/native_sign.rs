//! Hedged ML-DSA signing through PQClean (feature `native-mldsa-sign`): the same FIPS 204
//! algorithm as fips204's signer, in C with AVX2 where the CPU has it (about 5× faster here,
//! docs/PERFORMANCE.md). A registry signs one tree head per commit, so this is on the path of
//! every durable write with a hybrid log key.
//!
//! Only [`SigningKey::sign`](super::SigningKey::sign) uses it: the deterministic variant
//! (test vectors) stays with fips204, and keys are still derived by fips204 from their seed,
//! so key derivation and every existing signature are unchanged. PQClean draws the hedging
//! randomness from the operating system itself. Signatures made here are checked by fips204's
//! verifier in the tests below.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use pqcrypto_mldsa::{mldsa44, mldsa65};
use pqcrypto_traits::sign::{DetachedSignature as _, SecretKey as _};

use super::Algorithm;

/// PQClean's form of an ML-DSA private key (FIPS 204's sk encoding), overwritten with zeros
/// when dropped (the seed it came from stays in the signing key's zeroizing memory).
pub(super) enum NativeSigner {
    M44(Box<mldsa44::SecretKey>),
    M65(Box<mldsa65::SecretKey>),
}

impl NativeSigner {
    /// From FIPS 204's sk encoding of an ML-DSA-44 or -65 key; `None` for another algorithm
    /// or length (the caller then signs with fips204).
    pub(super) fn from_sk_encoding(alg: Algorithm, sk: &[u8]) -> Option<NativeSigner> {
        match alg {
            Algorithm::MlDsa44 => mldsa44::SecretKey::from_bytes(sk)
                .ok()
                .map(|k| NativeSigner::M44(Box::new(k))),
            Algorithm::MlDsa65 => mldsa65::SecretKey::from_bytes(sk)
                .ok()
                .map(|k| NativeSigner::M65(Box::new(k))),
            _ => None,
        }
    }

    /// A hedged FIPS 204 signature of `message` under `context` (at most 255 bytes, checked
    /// by the caller).
    pub(super) fn sign(&self, message: &[u8], context: &[u8]) -> Vec<u8> {
        match self {
            NativeSigner::M44(k) => mldsa44::detached_sign_ctx(message, context, k)
                .as_bytes()
                .to_vec(),
            NativeSigner::M65(k) => mldsa65::detached_sign_ctx(message, context, k)
                .as_bytes()
                .to_vec(),
        }
    }
}

impl Drop for NativeSigner {
    fn drop(&mut self) {
        // The key type exposes no mutable bytes: overwrite it in place with the all-zero key,
        // and let the optimiser see a read of it, so that the store is not removed as dead.
        match self {
            NativeSigner::M44(k) => {
                if let Ok(zero) =
                    mldsa44::SecretKey::from_bytes(&vec![0; mldsa44::secret_key_bytes()])
                {
                    **k = zero;
                }
                core::hint::black_box(&**k);
            }
            NativeSigner::M65(k) => {
                if let Ok(zero) =
                    mldsa65::SecretKey::from_bytes(&vec![0; mldsa65::secret_key_bytes()])
                {
                    **k = zero;
                }
                core::hint::black_box(&**k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::crypto::{Algorithm, SigningKey};

    // PQClean's hedged signatures verify under fips204's verifier (what every verifier build
    // runs), differ from call to call, and bind the message and the context.
    #[test]
    fn native_signatures_verify_with_fips204() {
        for alg in [
            Algorithm::MlDsa44,
            Algorithm::MlDsa65,
            Algorithm::Ed25519MlDsa44,
            Algorithm::Ed25519MlDsa65,
        ] {
            for seed in 0..4u8 {
                let sk = SigningKey::from_seed(alg, &[seed; 32]);
                let pk = sk.public_key();
                let a = sk.sign(b"message", b"ctx").unwrap();
                let b = sk.sign(b"message", b"ctx").unwrap();
                assert_ne!(a.as_bytes(), b.as_bytes(), "{alg}: hedged");
                pk.verify(b"message", b"ctx", &a).unwrap();
                pk.verify(b"message", b"ctx", &b).unwrap();
                assert!(pk.verify(b"messagf", b"ctx", &a).is_err(), "{alg}");
                assert!(pk.verify(b"message", b"ctz", &a).is_err(), "{alg}");
                let other = SigningKey::from_seed(alg, &[seed + 100; 32]);
                assert!(other.public_key().verify(b"message", b"ctx", &a).is_err());
                // The deterministic variant stays deterministic and valid (its exact bytes are
                // fixed by the signature vectors in tests/vectors).
                let d = sk.sign_deterministic(b"m", b"c").unwrap();
                assert_eq!(d, sk.sign_deterministic(b"m", b"c").unwrap());
                pk.verify(b"m", b"c", &d).unwrap();
            }
        }
    }
}
