//! ML-DSA-44 and ML-DSA-65 (FIPS 204) through the pure-Rust `fips204` crate, which builds for
//! `no_std` and wasm32 alike (docs/FORMATS.md, "Choice of ML-DSA backend", records the
//! measurements behind the choice). Pure ML-DSA only (no HashML-DSA): the message is signed as
//! is, with the FIPS 204 context string for domain separation, i.e. the signature covers
//! M' = 0x00 ‖ len(ctx) ‖ ctx ‖ M.

use fips204::traits::{SerDes, Verifier};
use fips204::{ml_dsa_44, ml_dsa_65};

use super::Algorithm;
use crate::error::{Error, ErrorCode, Result};

fn bad_key() -> Error {
    Error::new(ErrorCode::InvalidKey, "ML-DSA public key is malformed")
}

fn bad_sig(alg: Algorithm) -> Error {
    Error::new(
        ErrorCode::SignatureInvalid,
        alloc::format!("{alg} signature does not verify"),
    )
}

/// An ML-DSA public key decoded and expanded once (ρ, tr = H(pk) and t1 in the NTT domain),
/// so a verification does not redo that work. About 4 KiB (ML-DSA-44) or 6 KiB (ML-DSA-65);
/// [`super::PublicKey`] keeps it behind a pointer, so the size difference does not matter.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
pub(super) enum ExpandedKey {
    MlDsa44(ml_dsa_44::PublicKey),
    MlDsa65(ml_dsa_65::PublicKey),
}

impl ExpandedKey {
    /// Decodes `pk` for `alg` (ML-DSA-44 or ML-DSA-65). Errors: `invalid_key` on a wrong
    /// length or an encoding fips204 refuses, `unsupported_algorithm` for other algorithms.
    pub(super) fn parse(alg: Algorithm, pk: &[u8]) -> Result<ExpandedKey> {
        match alg {
            Algorithm::MlDsa44 => {
                let pk: [u8; ml_dsa_44::PK_LEN] = pk.try_into().map_err(|_| bad_key())?;
                let pk = ml_dsa_44::PublicKey::try_from_bytes(pk).map_err(|_| bad_key())?;
                Ok(ExpandedKey::MlDsa44(pk))
            }
            Algorithm::MlDsa65 => {
                let pk: [u8; ml_dsa_65::PK_LEN] = pk.try_into().map_err(|_| bad_key())?;
                let pk = ml_dsa_65::PublicKey::try_from_bytes(pk).map_err(|_| bad_key())?;
                Ok(ExpandedKey::MlDsa65(pk))
            }
            _ => Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                "not an ML-DSA algorithm",
            )),
        }
    }

    /// Verifies a pure ML-DSA signature with context `ctx` (at most 255 bytes; the caller
    /// checks the length and reports `domain_mismatch`).
    pub(super) fn verify(&self, message: &[u8], ctx: &[u8], sig: &[u8]) -> Result<()> {
        let (alg, ok) = match self {
            ExpandedKey::MlDsa44(pk) => {
                let alg = Algorithm::MlDsa44;
                let sig: &[u8; ml_dsa_44::SIG_LEN] = sig.try_into().map_err(|_| bad_sig(alg))?;
                (alg, pk.verify(message, sig, ctx))
            }
            ExpandedKey::MlDsa65(pk) => {
                let alg = Algorithm::MlDsa65;
                let sig: &[u8; ml_dsa_65::SIG_LEN] = sig.try_into().map_err(|_| bad_sig(alg))?;
                (alg, pk.verify(message, sig, ctx))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(bad_sig(alg))
        }
    }
}

/// Verifies with PQClean's ML-DSA (feature `native-mldsa`): the same FIPS 204 verification
/// as [`ExpandedKey::verify`], in C with AVX2 where the CPU has it. `pk` has been decoded by
/// [`ExpandedKey::parse`] already, so key validity is fips204's.
#[cfg(feature = "native-mldsa")]
pub(super) fn native_verify(
    alg: Algorithm,
    pk: &[u8],
    message: &[u8],
    ctx: &[u8],
    sig: &[u8],
) -> Result<()> {
    use pqcrypto_mldsa::{mldsa44, mldsa65};
    use pqcrypto_traits::sign::{DetachedSignature as _, PublicKey as _};
    let ok = match alg {
        Algorithm::MlDsa44 => {
            let pk = mldsa44::PublicKey::from_bytes(pk).map_err(|_| bad_key())?;
            let sig = mldsa44::DetachedSignature::from_bytes(sig).map_err(|_| bad_sig(alg))?;
            sig.as_bytes().len() == mldsa44::signature_bytes()
                && mldsa44::verify_detached_signature_ctx(&sig, message, ctx, &pk).is_ok()
        }
        Algorithm::MlDsa65 => {
            let pk = mldsa65::PublicKey::from_bytes(pk).map_err(|_| bad_key())?;
            let sig = mldsa65::DetachedSignature::from_bytes(sig).map_err(|_| bad_sig(alg))?;
            sig.as_bytes().len() == mldsa65::signature_bytes()
                && mldsa65::verify_detached_signature_ctx(&sig, message, ctx, &pk).is_ok()
        }
        _ => {
            return Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                "not an ML-DSA algorithm",
            ))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(bad_sig(alg))
    }
}

#[cfg(all(test, feature = "native-mldsa"))]
mod native_tests {
    use super::*;
    use fips204::traits::{KeyGen, Signer as _};

    /// fips204 and PQClean give the same verdict on valid signatures and on every mutation
    /// tried: bit flips across the whole signature (z, the hints, c~), all-zero and all-0xff
    /// signatures, other messages and contexts, truncations.
    #[test]
    fn pqclean_and_fips204_agree() -> Result<()> {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        };
        let mut agreed = 0;
        for round in 0..6u8 {
            let keygen_seed: [u8; 32] = core::array::from_fn(|_| next());
            let message: alloc::vec::Vec<u8> = (0..(round as usize * 40)).map(|_| next()).collect();
            let ctx: alloc::vec::Vec<u8> = (0..(round as usize * 9)).map(|_| next()).collect();
            let cases: alloc::vec::Vec<(Algorithm, alloc::vec::Vec<u8>, alloc::vec::Vec<u8>)> = alloc::vec![
                {
                    let (pk, sk) = ml_dsa_44::KG::keygen_from_seed(&keygen_seed);
                    let sig = sk
                        .try_sign_with_seed(&[round; 32], &message, &ctx)
                        .map_err(Error::malformed)?;
                    (Algorithm::MlDsa44, pk.into_bytes().to_vec(), sig.to_vec())
                },
                {
                    let (pk, sk) = ml_dsa_65::KG::keygen_from_seed(&keygen_seed);
                    let sig = sk
                        .try_sign_with_seed(&[round; 32], &message, &ctx)
                        .map_err(Error::malformed)?;
                    (Algorithm::MlDsa65, pk.into_bytes().to_vec(), sig.to_vec())
                },
            ];
            for (alg, pk, sig) in cases {
                let key = ExpandedKey::parse(alg, &pk)?;
                let mut variants = alloc::vec![
                    sig.clone(),
                    alloc::vec![0u8; sig.len()],
                    alloc::vec![0xffu8; sig.len()]
                ];
                for bit in (0..sig.len() * 8).step_by(97 + round as usize) {
                    let mut s = sig.clone();
                    s[bit / 8] ^= 1 << (bit % 8);
                    variants.push(s);
                }
                variants.push(sig[..sig.len() - 1].to_vec());
                for s in &variants {
                    for (m, c) in [
                        (&message[..], &ctx[..]),
                        (b"other".as_slice(), &ctx[..]),
                        (&message[..], b"x".as_slice()),
                    ] {
                        let pure = key.verify(m, c, s).is_ok();
                        let native = native_verify(alg, &pk, m, c, s).is_ok();
                        assert_eq!(pure, native, "{alg} round {round}");
                        agreed += 1;
                    }
                }
                assert!(key.verify(&message, &ctx, &sig).is_ok());
            }
        }
        assert!(agreed > 1000);
        Ok(())
    }
}
