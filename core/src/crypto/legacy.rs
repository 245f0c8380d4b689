//! Round-3 (v3.1) CRYSTALS-Dilithium2/3 through `pqcrypto-dilithium` 0.4 (PQClean C code,
//! native only), the scheme the seed systems signed with. Verification exists to check and
//! migrate old signatures; signing exists for tests. Round-3 Dilithium is not FIPS 204: it
//! has no context string, and its signatures are not ML-DSA signatures.

use alloc::vec::Vec;
use pqcrypto_dilithium::{dilithium2, dilithium3};
use pqcrypto_traits::sign::{DetachedSignature as _, PublicKey as _, SecretKey as _};

use super::{Algorithm, PublicKey, Signature};
use crate::error::{Error, ErrorCode, Result};

pub(super) fn verify(alg: Algorithm, pk: &[u8], message: &[u8], sig: &[u8]) -> Result<()> {
    let bad_key = |_| Error::new(ErrorCode::InvalidKey, "Dilithium public key is malformed");
    let bad_sig = |_| {
        Error::new(
            ErrorCode::SignatureInvalid,
            alloc::format!("{alg} signature is malformed"),
        )
    };
    let ok = match alg {
        Algorithm::Dilithium2R3 => {
            let k = dilithium2::PublicKey::from_bytes(pk).map_err(bad_key)?;
            let s = dilithium2::DetachedSignature::from_bytes(sig).map_err(bad_sig)?;
            dilithium2::verify_detached_signature(&s, message, &k).is_ok()
        }
        Algorithm::Dilithium3R3 => {
            let k = dilithium3::PublicKey::from_bytes(pk).map_err(bad_key)?;
            let s = dilithium3::DetachedSignature::from_bytes(sig).map_err(bad_sig)?;
            dilithium3::verify_detached_signature(&s, message, &k).is_ok()
        }
        _ => {
            return Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                "not a legacy algorithm",
            ))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::SignatureInvalid,
            alloc::format!("{alg} signature does not verify"),
        ))
    }
}

/// A round-3 Dilithium key pair, for producing legacy signatures in tests and fixtures.
///
/// ```
/// use cairn_core::crypto::{Algorithm, LegacySigningKey};
/// let k = LegacySigningKey::generate(Algorithm::Dilithium2R3)?;
/// let sig = k.sign(b"old checkpoint");
/// k.public_key().verify(b"old checkpoint", b"", &sig)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LegacySigningKey {
    alg: Algorithm,
    secret: zeroize::Zeroizing<Vec<u8>>,
    public: PublicKey,
}

impl LegacySigningKey {
    /// Generates a key pair with the library's own randomness.
    pub fn generate(alg: Algorithm) -> Result<LegacySigningKey> {
        let (pk, sk): (Vec<u8>, Vec<u8>) = match alg {
            Algorithm::Dilithium2R3 => {
                let (p, s) = dilithium2::keypair();
                (p.as_bytes().to_vec(), s.as_bytes().to_vec())
            }
            Algorithm::Dilithium3R3 => {
                let (p, s) = dilithium3::keypair();
                (p.as_bytes().to_vec(), s.as_bytes().to_vec())
            }
            _ => {
                return Err(Error::new(
                    ErrorCode::UnsupportedAlgorithm,
                    "not a legacy algorithm",
                ))
            }
        };
        Ok(LegacySigningKey {
            alg,
            secret: zeroize::Zeroizing::new(sk),
            public: PublicKey::from_bytes(alg, &pk)?,
        })
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `message` (round-3 Dilithium has no context string).
    pub fn sign(&self, message: &[u8]) -> Signature {
        let bytes = match self.alg {
            Algorithm::Dilithium2R3 => {
                // invariant: the secret came from dilithium2::keypair and has its length.
                let sk =
                    dilithium2::SecretKey::from_bytes(&self.secret).expect("invariant: own key");
                dilithium2::detached_sign(message, &sk).as_bytes().to_vec()
            }
            _ => {
                // invariant: the secret came from dilithium3::keypair and has its length.
                let sk =
                    dilithium3::SecretKey::from_bytes(&self.secret).expect("invariant: own key");
                dilithium3::detached_sign(message, &sk).as_bytes().to_vec()
            }
        };
        // invariant: the library's signatures have the algorithm's fixed length.
        Signature::from_bytes(self.alg, &bytes).expect("invariant: library signature length")
    }
}
