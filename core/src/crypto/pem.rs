//! PEM import and export: SubjectPublicKeyInfo (`PUBLIC KEY`) for public keys and PKCS#8
//! (`PRIVATE KEY`, feature `std`) for private keys.
//!
//! Standard encodings exist for Ed25519 (RFC 8410, OID 1.3.101.112) and ML-DSA (RFC 9881:
//! OIDs 2.16.840.1.101.3.4.3.17 and .18; the public key is the raw FIPS 204 encoding, the
//! private key is the 32-byte seed form `[0] IMPLICIT OCTET STRING`). Hybrids and round-3
//! Dilithium have no standard encoding and are refused with `unsupported_algorithm`.

use alloc::string::String;
use alloc::vec::Vec;
use pkcs8::der::asn1::BitStringRef;
use pkcs8::der::pem::LineEnding;
use pkcs8::der::{Decode, Encode};
use pkcs8::spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};

use super::{Algorithm, PublicKey};
use crate::error::{Error, ErrorCode, Result};

const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_MLDSA44: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.17");
const OID_MLDSA65: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.18");

/// Largest PEM text accepted (an ML-DSA-65 private or public key is far below this).
pub const MAX_PEM_LEN: usize = 16 * 1024;

fn oid_for(alg: Algorithm) -> Result<ObjectIdentifier> {
    match alg {
        Algorithm::Ed25519 => Ok(OID_ED25519),
        Algorithm::MlDsa44 => Ok(OID_MLDSA44),
        Algorithm::MlDsa65 => Ok(OID_MLDSA65),
        other => Err(Error::new(
            ErrorCode::UnsupportedAlgorithm,
            alloc::format!("{other} keys have no standard PEM encoding"),
        )),
    }
}

fn alg_for(oid: ObjectIdentifier) -> Result<Algorithm> {
    if oid == OID_ED25519 {
        Ok(Algorithm::Ed25519)
    } else if oid == OID_MLDSA44 {
        Ok(Algorithm::MlDsa44)
    } else if oid == OID_MLDSA65 {
        Ok(Algorithm::MlDsa65)
    } else {
        Err(Error::new(
            ErrorCode::UnsupportedAlgorithm,
            alloc::format!("unsupported key algorithm OID {oid}"),
        ))
    }
}

fn der_err(what: &str) -> impl Fn(pkcs8::der::Error) -> Error + '_ {
    move |e| Error::malformed(alloc::format!("{what}: {e}"))
}

pub(crate) fn decode_pem(text: &str, label: &str) -> Result<Vec<u8>> {
    if text.len() > MAX_PEM_LEN {
        return Err(Error::new(ErrorCode::TooLarge, "PEM text is too large"));
    }
    let (found, der) = pkcs8::der::pem::decode_vec(text.trim().as_bytes())
        .map_err(|e| Error::malformed(alloc::format!("PEM: {e}")))?;
    if found != label {
        return Err(Error::malformed(alloc::format!(
            "expected a {label} PEM block, found {found}"
        )));
    }
    Ok(der)
}

pub(crate) fn encode_pem(label: &'static str, der: &[u8]) -> Result<String> {
    pkcs8::der::pem::encode_string(label, LineEnding::LF, der)
        .map_err(|e| Error::malformed(alloc::format!("PEM: {e}")))
}

/// The SubjectPublicKeyInfo DER of a key.
pub fn public_key_to_der(pk: &PublicKey) -> Result<Vec<u8>> {
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: oid_for(pk.algorithm())?,
            parameters: None,
        },
        subject_public_key: BitStringRef::from_bytes(pk.as_bytes()).map_err(der_err("SPKI"))?,
    };
    spki.to_der().map_err(der_err("SPKI"))
}

/// Parses a SubjectPublicKeyInfo DER.
pub fn public_key_from_der(der: &[u8]) -> Result<PublicKey> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(der_err("SubjectPublicKeyInfo"))?;
    if spki.algorithm.parameters.is_some() {
        return Err(Error::malformed(
            "SubjectPublicKeyInfo: algorithm parameters must be absent",
        ));
    }
    let alg = alg_for(spki.algorithm.oid)?;
    let raw = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| Error::malformed("SubjectPublicKeyInfo: key bit string has unused bits"))?;
    PublicKey::from_bytes(alg, raw)
}

/// Exports a public key as `-----BEGIN PUBLIC KEY-----` PEM (LF line endings).
///
/// ```
/// use cairn_core::crypto::{pem, Algorithm, PublicKey};
/// let text = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAc9L5J+vRUDiG6vaY7dyqdzsXrZK/ZItbb+LjjYlkAZg=\n-----END PUBLIC KEY-----\n";
/// let pk = pem::public_key_from_pem(text).unwrap();
/// assert_eq!(pk.algorithm(), Algorithm::Ed25519);
/// assert_eq!(pem::public_key_to_pem(&pk).unwrap(), text);
/// ```
pub fn public_key_to_pem(pk: &PublicKey) -> Result<String> {
    encode_pem("PUBLIC KEY", &public_key_to_der(pk)?)
}

/// Imports a `PUBLIC KEY` PEM block (surrounding whitespace is ignored).
pub fn public_key_from_pem(text: &str) -> Result<PublicKey> {
    public_key_from_der(&decode_pem(text, "PUBLIC KEY")?)
}

#[cfg(feature = "std")]
pub use private::{signing_key_from_pem, signing_key_to_pem};

#[cfg(feature = "std")]
mod private {
    use super::*;
    use crate::crypto::SigningKey;
    use pkcs8::PrivateKeyInfo;
    use zeroize::Zeroizing;

    /// Exports a private key as unencrypted PKCS#8 PEM. Ed25519 uses RFC 8410's
    /// `OCTET STRING` seed; ML-DSA uses RFC 9881's seed form (`[0]` tag 0x80).
    ///
    /// ```
    /// use cairn_core::crypto::{pem, Algorithm, SigningKey};
    /// let sk = SigningKey::from_seed(Algorithm::MlDsa44, &[3; 32]);
    /// let text = pem::signing_key_to_pem(&sk).unwrap();
    /// let back = pem::signing_key_from_pem(&text).unwrap();
    /// assert_eq!(back.public_key(), sk.public_key());
    /// ```
    pub fn signing_key_to_pem(sk: &SigningKey) -> Result<Zeroizing<String>> {
        let oid = oid_for(sk.algorithm())?;
        let tag = if sk.algorithm() == Algorithm::Ed25519 {
            0x04
        } else {
            0x80
        };
        let mut inner = Zeroizing::new(Vec::with_capacity(34));
        inner.push(tag);
        inner.push(32);
        inner.extend_from_slice(sk.secret_bytes());
        let info = PrivateKeyInfo::new(
            AlgorithmIdentifierRef {
                oid,
                parameters: None,
            },
            &inner,
        );
        let der = Zeroizing::new(info.to_der().map_err(der_err("PKCS#8"))?);
        Ok(Zeroizing::new(encode_pem("PRIVATE KEY", &der)?))
    }

    /// Imports an unencrypted PKCS#8 `PRIVATE KEY` PEM (Ed25519 or ML-DSA seed form).
    pub fn signing_key_from_pem(text: &str) -> Result<SigningKey> {
        let der = Zeroizing::new(decode_pem(text, "PRIVATE KEY")?);
        let info = PrivateKeyInfo::from_der(&der).map_err(der_err("PKCS#8"))?;
        let alg = alg_for(info.algorithm.oid)?;
        let want_tag = if alg == Algorithm::Ed25519 {
            0x04
        } else {
            0x80
        };
        let pk = info.private_key;
        if pk.len() != 34 || pk[0] != want_tag || pk[1] != 32 {
            return Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                "PKCS#8: only the 32-byte seed form of the private key is supported",
            ));
        }
        let key = SigningKey::from_secret_bytes(alg, &pk[2..])?;
        if let Some(embedded) = info.public_key {
            if embedded != key.public_key().as_bytes() {
                return Err(Error::new(
                    ErrorCode::KeyMismatch,
                    "PKCS#8: embedded public key does not match the seed",
                ));
            }
        }
        Ok(key)
    }
}
