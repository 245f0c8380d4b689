//! PEM import and export: SubjectPublicKeyInfo (`PUBLIC KEY`) for public keys and PKCS#8
//! (`PRIVATE KEY`, feature `std`) for private keys.
//!
//! Standard encodings exist for Ed25519 (RFC 8410, OID 1.3.101.112) and ML-DSA (RFC 9881:
//! OIDs 2.16.840.1.101.3.4.3.17 and .18; the public key is the raw FIPS 204 encoding). Private
//! keys are written in their seed form (Ed25519: `OCTET STRING` of the 32-byte seed; ML-DSA:
//! `seed [0] IMPLICIT OCTET STRING`). On import, ML-DSA's `both` form (seed and expanded key)
//! is accepted too when the expanded key matches the seed; the `expandedKey`-only form is
//! refused, because cairn keeps every private key as its seed. Hybrids and round-3 Dilithium
//! have no standard encoding and are refused with `unsupported_algorithm`.

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

/// Largest PEM text accepted (an ML-DSA-65 private key in the `both` form is about 5.6 KiB).
pub const MAX_PEM_LEN: usize = 16 * 1024;
/// Largest DER input accepted (an ML-DSA-65 private key in the `both` form is 4 KiB).
pub const MAX_DER_LEN: usize = 8 * 1024;

fn check_der_len(der: &[u8]) -> Result<()> {
    if der.len() > MAX_DER_LEN {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!("DER key is {} bytes, limit {MAX_DER_LEN}", der.len()),
        ));
    }
    Ok(())
}

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
///
/// ```
/// use cairn_core::crypto::pem;
/// let der = cairn_core::encoding::b64_decode(
///     "MCowBQYDK2VwAyEAc9L5J+vRUDiG6vaY7dyqdzsXrZK/ZItbb+LjjYlkAZg=")?;
/// let pk = pem::public_key_from_der(&der)?;
/// assert_eq!(pem::public_key_to_der(&pk)?, der);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn public_key_from_der(der: &[u8]) -> Result<PublicKey> {
    check_der_len(der)?;
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
/// let pk = pem::public_key_from_pem(text)?;
/// assert_eq!(pk.algorithm(), Algorithm::Ed25519);
/// assert_eq!(pem::public_key_to_pem(&pk)?, text);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn public_key_to_pem(pk: &PublicKey) -> Result<String> {
    encode_pem("PUBLIC KEY", &public_key_to_der(pk)?)
}

/// Imports a `PUBLIC KEY` PEM block (surrounding whitespace is ignored).
pub fn public_key_from_pem(text: &str) -> Result<PublicKey> {
    public_key_from_der(&decode_pem(text, "PUBLIC KEY")?)
}

#[cfg(feature = "std")]
pub use private::{
    signing_key_from_der, signing_key_from_pem, signing_key_to_der, signing_key_to_pem,
};

#[cfg(feature = "std")]
mod private {
    use super::*;
    use crate::crypto::SigningKey;
    use pkcs8::PrivateKeyInfo;
    use zeroize::Zeroizing;

    /// DER header of an `OCTET STRING` (tag 0x04) of `len` bytes, `len` < 65536.
    fn octet_string_header(len: usize) -> Vec<u8> {
        der_header(0x04, len)
    }

    fn der_header(tag: u8, len: usize) -> Vec<u8> {
        // Short form below 128, else the two-byte long form: every length used here is
        // below 65536 (an ML-DSA-65 expanded key is 4032 bytes).
        let [hi, lo] = (len as u16).to_be_bytes();
        match len {
            0..=127 => alloc::vec![tag, lo],
            128..=255 => alloc::vec![tag, 0x81, lo],
            _ => alloc::vec![tag, 0x82, hi, lo],
        }
    }

    /// Exports a private key as unencrypted PKCS#8 PEM (LF line endings). Ed25519 uses RFC
    /// 8410's `OCTET STRING` seed; ML-DSA uses RFC 9881's seed form (`[0]`, tag 0x80).
    ///
    /// ```
    /// use cairn_core::crypto::{pem, Algorithm, SigningKey};
    /// let sk = SigningKey::from_seed(Algorithm::MlDsa44, &[3; 32]);
    /// let text = pem::signing_key_to_pem(&sk)?;
    /// let back = pem::signing_key_from_pem(&text)?;
    /// assert_eq!(back.public_key(), sk.public_key());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signing_key_to_pem(sk: &SigningKey) -> Result<Zeroizing<String>> {
        let der = signing_key_to_der(sk)?;
        Ok(Zeroizing::new(encode_pem("PRIVATE KEY", &der)?))
    }

    /// The PKCS#8 DER of a private key (see [`signing_key_to_pem`]).
    pub fn signing_key_to_der(sk: &SigningKey) -> Result<Zeroizing<Vec<u8>>> {
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
        Ok(Zeroizing::new(info.to_der().map_err(der_err("PKCS#8"))?))
    }

    /// Imports an unencrypted PKCS#8 `PRIVATE KEY` PEM (see [`signing_key_from_der`]).
    pub fn signing_key_from_pem(text: &str) -> Result<SigningKey> {
        let der = Zeroizing::new(decode_pem(text, "PRIVATE KEY")?);
        signing_key_from_der(&der)
    }

    /// Imports an unencrypted PKCS#8 DER private key: Ed25519 (RFC 8410) or ML-DSA (RFC 9881
    /// `seed` form, or `both` form whose expanded key must match the seed). An embedded public
    /// key (PKCS#8 v2) must match the one derived from the seed (`key_mismatch`).
    pub fn signing_key_from_der(der: &[u8]) -> Result<SigningKey> {
        check_der_len(der)?;
        let info = PrivateKeyInfo::from_der(der).map_err(der_err("PKCS#8"))?;
        if info.algorithm.parameters.is_some() {
            return Err(Error::malformed(
                "PKCS#8: algorithm parameters must be absent",
            ));
        }
        let alg = alg_for(info.algorithm.oid)?;
        let body = info.private_key;
        let key = match alg {
            Algorithm::Ed25519 => {
                let seed = body
                    .strip_prefix(&[0x04, 32][..])
                    .filter(|s| s.len() == 32)
                    .ok_or_else(|| {
                        Error::malformed(
                            "PKCS#8: Ed25519 private key must be a 32-byte OCTET STRING",
                        )
                    })?;
                SigningKey::from_secret_bytes(alg, seed)?
            }
            _ => mldsa_from_body(alg, body)?,
        };
        if let Some(embedded) = info.public_key {
            if embedded != key.public_key().as_bytes() {
                return Err(Error::new(
                    ErrorCode::KeyMismatch,
                    "PKCS#8: embedded public key does not match the private key",
                ));
            }
        }
        Ok(key)
    }

    /// Parses RFC 9881's ML-DSA-PrivateKey CHOICE. Every size is fixed, so the DER encodings
    /// are exactly: seed = 80 20 ‖ seed; both = 30 L (04 20 ‖ seed) (04 L' ‖ expanded);
    /// expandedKey = 04 L' ‖ expanded.
    fn mldsa_from_body(alg: Algorithm, body: &[u8]) -> Result<SigningKey> {
        if let Some(seed) = body.strip_prefix(&[0x80, 32][..]) {
            if seed.len() == 32 {
                return SigningKey::from_secret_bytes(alg, seed);
            }
        }
        let expanded_len = if alg == Algorithm::MlDsa44 {
            2560
        } else {
            4032
        };
        let exp_header = octet_string_header(expanded_len);
        let inner_len = 34 + exp_header.len() + expanded_len;
        let mut both_prefix = der_header(0x30, inner_len);
        both_prefix.extend_from_slice(&[0x04, 32]);
        if let Some(rest) = body.strip_prefix(&both_prefix[..]) {
            if rest.len() == 32 + exp_header.len() + expanded_len {
                let (seed, rest) = rest.split_at(32);
                if let Some(expanded) = rest.strip_prefix(&exp_header[..]) {
                    let key = SigningKey::from_secret_bytes(alg, seed)?;
                    let ours = key.mldsa_expanded_secret().ok_or_else(|| {
                        Error::new(ErrorCode::UnsupportedAlgorithm, "not an ML-DSA key")
                    })?;
                    if ours.as_slice() != expanded {
                        return Err(Error::new(
                            ErrorCode::KeyMismatch,
                            "PKCS#8: ML-DSA expanded key does not match its seed",
                        ));
                    }
                    return Ok(key);
                }
            }
        }
        if body.starts_with(&exp_header) && body.len() == exp_header.len() + expanded_len {
            return Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                "PKCS#8: ML-DSA expandedKey-only private keys are not supported (cairn needs the seed)",
            ));
        }
        Err(Error::malformed(
            "PKCS#8: ML-DSA private key is neither the seed nor the both form",
        ))
    }
}
