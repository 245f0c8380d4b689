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
use base64::Engine;

use super::{Algorithm, PublicKey};
use crate::error::{Error, ErrorCode, Result};

// Public keys are read and written here without an ASN.1 library: a SubjectPublicKeyInfo of
// these algorithms has one shape (`SEQUENCE { SEQUENCE { OID }, BIT STRING }`), and the
// browser module is 12 KB of gzip smaller without `der`, `spki`, `pem-rfc7468`, `const-oid`
// and `base64ct`. What is accepted and refused is exactly what those crates (der 0.7 and
// pem-rfc7468 0.7's strict grammar) accepted and refused, error code for error code: the tests
// in core/tests/pem_compat.rs compare the two over tables of edge cases and random mutations.
// PKCS#8 private keys (feature `std`) are still decoded with `pkcs8`.

/// DER contents of the OIDs (1.3.101.112; 2.16.840.1.101.3.4.3.17 and .18).
const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];
const OID_MLDSA44: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x11];
const OID_MLDSA65: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12];

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

fn oid_for(alg: Algorithm) -> Result<&'static [u8]> {
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

/// The algorithm of a well-formed OID (see [`oid_arcs`]), `unsupported_algorithm` for others.
fn alg_for(oid: &[u8]) -> Result<Algorithm> {
    match oid {
        OID_ED25519 => Ok(Algorithm::Ed25519),
        OID_MLDSA44 => Ok(Algorithm::MlDsa44),
        OID_MLDSA65 => Ok(Algorithm::MlDsa65),
        _ => Err(Error::new(
            ErrorCode::UnsupportedAlgorithm,
            alloc::format!(
                "unsupported key algorithm OID {}",
                oid_arcs(oid).unwrap_or_default()
            ),
        )),
    }
}

/// The dotted form of an OID's DER contents, or `None` when they are not a well-formed OID
/// (the rules of const-oid 0.9: 3 to 39 bytes, a first byte below 120 (first arc 0 to 2),
/// base-128 arcs of at most 5 bytes whose fifth byte is below 16, none left unfinished).
fn oid_arcs(oid: &[u8]) -> Option<String> {
    use core::fmt::Write;
    let (&first, rest) = oid.split_first()?;
    if !(3..=39).contains(&oid.len()) || first >= 120 {
        return None;
    }
    let mut out = String::new();
    let _ = write!(out, "{}.{}", first / 40, first % 40);
    let (mut arc, mut len) = (0u32, 0usize);
    for &b in rest {
        len += 1;
        if len > 4 && b & 0xF0 != 0 {
            return None;
        }
        arc = arc.wrapping_shl(7) | u32::from(b & 0x7F);
        if b & 0x80 == 0 {
            let _ = write!(out, ".{arc}");
            (arc, len) = (0, 0);
        }
    }
    (len == 0).then_some(out)
}

/// Reads one DER element of tag `tag` from the front of `input` (definite, minimal length;
/// at most a 4-byte long form) and returns its contents, or `None`.
fn der_take<'a>(input: &mut &'a [u8], tag: u8) -> Option<&'a [u8]> {
    let (&t, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    if t != tag {
        return None;
    }
    let len = match first {
        0..=0x7F => usize::from(first),
        0x81..=0x84 => {
            let n = usize::from(first - 0x80);
            let (bytes, after) = (rest.get(..n)?, rest.get(n..)?);
            // Minimal: no leading zero byte, and the long form only from 128 on.
            if bytes.first() == Some(&0) || (n == 1 && bytes[0] < 0x80) {
                return None;
            }
            rest = after;
            bytes.iter().fold(0usize, |l, &b| l << 8 | usize::from(b))
        }
        _ => return None,
    };
    let value = rest.get(..len)?;
    *input = rest.get(len..)?;
    Some(value)
}

/// A SubjectPublicKeyInfo's parts: the OID's contents and the BIT STRING's unused-bit count
/// and bytes, or `None` when the DER is not one (AlgorithmIdentifier parameters included:
/// cairn's algorithms have none).
fn parse_spki(der: &[u8]) -> Option<(&[u8], u8, &[u8])> {
    let mut input = der;
    let mut spki = der_take(&mut input, 0x30)?;
    let mut alg_id = der_take(&mut spki, 0x30)?;
    let oid = der_take(&mut alg_id, 0x06)?;
    let bits = der_take(&mut spki, 0x03)?;
    let (&unused, key) = bits.split_first()?;
    if !input.is_empty() || !spki.is_empty() || !alg_id.is_empty() {
        return None;
    }
    if unused > 7 || (unused != 0 && key.is_empty()) {
        return None;
    }
    oid_arcs(oid)?;
    Some((oid, unused, key))
}

/// One PEM block of `label`, decoded, as RFC 7468's strict grammar reads it (pem-rfc7468 0.7):
/// an optional preamble without NUL bytes that ends in a line break, `-----BEGIN <label>-----`
/// and a line break, base64 in lines of exactly 64 characters each ended by CRLF, CR or LF
/// (the last line shorter, optionally followed by one more line break), a line break and
/// `-----END <label>-----`, optionally followed by a line break.
fn pem_block(text: &[u8], label: &str) -> Option<Vec<u8>> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    const DASHES: &[u8] = b"-----";
    fn eol_at_start(s: &[u8]) -> Option<&[u8]> {
        s.strip_prefix(b"\r\n")
            .or_else(|| s.strip_prefix(b"\n"))
            .or_else(|| s.strip_prefix(b"\r"))
    }
    fn eol_at_end(s: &[u8]) -> Option<&[u8]> {
        s.strip_suffix(b"\r\n")
            .or_else(|| s.strip_suffix(b"\n"))
            .or_else(|| s.strip_suffix(b"\r"))
    }
    // The preamble: everything before the first "\n-----BEGIN ", with no NUL byte in it.
    let mut rest = text;
    if !rest.starts_with(BEGIN) {
        let at = rest
            .windows(BEGIN.len() + 1)
            .position(|w| w[0] == b'\n' && &w[1..] == BEGIN)?;
        if rest[..at].contains(&0) {
            return None;
        }
        rest = &rest[at + 1..];
    }
    let rest = rest[BEGIN.len()..]
        .strip_prefix(label.as_bytes())?
        .strip_prefix(DASHES)?;
    let body = eol_at_start(rest)?;
    let body = eol_at_end(body).unwrap_or(body);
    let body = body
        .strip_suffix(DASHES)?
        .strip_suffix(label.as_bytes())?
        .strip_suffix(END)?;
    let mut encoded = eol_at_end(body)?;
    // Lines: 64 characters and a line break each; the last one (at most 64 bytes with its
    // line break) may be empty only after a full line, and then the base64 has no padding.
    let mut b64 = Vec::with_capacity(encoded.len());
    let mut last_empty = false;
    loop {
        if encoded.len() <= 64 {
            let line = eol_at_end(encoded).unwrap_or(encoded);
            last_empty = line.is_empty();
            b64.extend_from_slice(line);
            break;
        }
        let (line, after) = encoded.split_at(64);
        b64.extend_from_slice(line);
        encoded = eol_at_start(after)?;
        if encoded.is_empty() {
            break;
        }
    }
    if b64.is_empty() || (last_empty && b64.contains(&b'=')) {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(&b64).ok()
}

pub(crate) fn decode_pem(text: &str, label: &str) -> Result<Vec<u8>> {
    if text.len() > MAX_PEM_LEN {
        return Err(Error::new(ErrorCode::TooLarge, "PEM text is too large"));
    }
    pem_block(text.trim().as_bytes(), label).ok_or_else(|| {
        Error::malformed(alloc::format!(
            "PEM: not one {label} block (RFC 7468: 64-character base64 lines)"
        ))
    })
}

pub(crate) fn encode_pem(label: &'static str, der: &[u8]) -> Result<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 32);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in b64.as_bytes().chunks(64) {
        // invariant: base64 is ASCII, so every 64-byte piece is UTF-8.
        out.push_str(core::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    Ok(out)
}

/// The DER header (tag and length) of an element of `len` bytes, `len` < 65536.
pub(crate) fn der_header(tag: u8, len: usize) -> Vec<u8> {
    let [hi, lo] = (len as u16).to_be_bytes();
    match len {
        0..=127 => alloc::vec![tag, lo],
        128..=255 => alloc::vec![tag, 0x81, lo],
        _ => alloc::vec![tag, 0x82, hi, lo],
    }
}

/// The SubjectPublicKeyInfo DER of a key.
pub fn public_key_to_der(pk: &PublicKey) -> Result<Vec<u8>> {
    let oid = oid_for(pk.algorithm())?;
    let key = pk.as_bytes();
    let mut alg_id = der_header(0x06, oid.len());
    alg_id.extend_from_slice(oid);
    let mut body = der_header(0x30, alg_id.len());
    body.extend_from_slice(&alg_id);
    body.extend_from_slice(&der_header(0x03, key.len() + 1));
    body.push(0);
    body.extend_from_slice(key);
    let mut der = der_header(0x30, body.len());
    der.extend_from_slice(&body);
    Ok(der)
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
    let (oid, unused, raw) = parse_spki(der).ok_or_else(|| {
        Error::malformed(
            "SubjectPublicKeyInfo: not SEQUENCE { SEQUENCE { OID }, BIT STRING } in DER \
             (algorithm parameters must be absent)",
        )
    })?;
    let alg = alg_for(oid)?;
    if unused != 0 {
        return Err(Error::malformed(
            "SubjectPublicKeyInfo: key bit string has unused bits",
        ));
    }
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
    use pkcs8::der::{Decode, Encode};
    use pkcs8::spki::{AlgorithmIdentifierRef, ObjectIdentifier};
    use pkcs8::PrivateKeyInfo;
    use zeroize::Zeroizing;

    /// DER header of an `OCTET STRING` (tag 0x04) of `len` bytes, `len` < 65536.
    fn octet_string_header(len: usize) -> Vec<u8> {
        der_header(0x04, len)
    }

    fn der_err(what: &str) -> impl Fn(pkcs8::der::Error) -> Error + '_ {
        move |e| Error::malformed(alloc::format!("{what}: {e}"))
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
        let oid = ObjectIdentifier::from_bytes(oid_for(sk.algorithm())?)
            .map_err(|e| Error::malformed(alloc::format!("OID: {e}")))?;
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
        let alg = alg_for(info.algorithm.oid.as_bytes())?;
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
