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
