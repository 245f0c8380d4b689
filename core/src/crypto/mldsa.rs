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

/// Verifies a pure ML-DSA signature with context `ctx` (at most 255 bytes).
pub(super) fn verify(
    alg: Algorithm,
    pk: &[u8],
    message: &[u8],
    ctx: &[u8],
    sig: &[u8],
) -> Result<()> {
    let ok = match alg {
        Algorithm::MlDsa44 => {
            let pk: [u8; ml_dsa_44::PK_LEN] = pk.try_into().map_err(|_| bad_key())?;
            let sig: &[u8; ml_dsa_44::SIG_LEN] = sig.try_into().map_err(|_| bad_sig(alg))?;
            let pk = ml_dsa_44::PublicKey::try_from_bytes(pk).map_err(|_| bad_key())?;
            pk.verify(message, sig, ctx)
        }
        Algorithm::MlDsa65 => {
            let pk: [u8; ml_dsa_65::PK_LEN] = pk.try_into().map_err(|_| bad_key())?;
            let sig: &[u8; ml_dsa_65::SIG_LEN] = sig.try_into().map_err(|_| bad_sig(alg))?;
            let pk = ml_dsa_65::PublicKey::try_from_bytes(pk).map_err(|_| bad_key())?;
            pk.verify(message, sig, ctx)
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
