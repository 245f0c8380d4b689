//! Byte-level helpers shared by every format: strict base64, hex, SHA-256, and the
//! exact postcard decoding rule (no trailing bytes).

use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, ErrorCode, Result};

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// SHA-256 over the concatenation of `parts`.
///
/// ```
/// let d = cairn_core::encoding::sha256(&[b"ab", b"c"]);
/// assert_eq!(d, cairn_core::encoding::sha256(&[b"abc"]));
/// ```
pub fn sha256(parts: &[&[u8]]) -> Digest {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Standard base64 (RFC 4648 §4) with `=` padding.
///
/// ```
/// assert_eq!(cairn_core::encoding::b64_encode(b"hi"), "aGk=");
/// ```
pub fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Strict standard base64: padding required, canonical trailing bits, no whitespace.
///
/// ```
/// use cairn_core::encoding::b64_decode;
/// assert_eq!(b64_decode("aGk=")?, b"hi");
/// assert!(b64_decode("aGl=").is_err()); // non-canonical trailing bits
/// assert!(b64_decode("aGk").is_err());  // missing padding
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn b64_decode(text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Error::malformed(alloc::format!("invalid base64: {e}")))
}

/// Lowercase hex.
pub fn hex_encode(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Hex decoding of any length (either case accepted; an odd length or another character is
/// `malformed`).
///
/// ```
/// assert_eq!(cairn_core::encoding::hex_decode("0aFF")?, vec![10, 255]);
/// assert!(cairn_core::encoding::hex_decode("0a0").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn hex_decode(text: &str) -> Result<Vec<u8>> {
    hex::decode(text).map_err(|e| Error::malformed(alloc::format!("invalid hex: {e}")))
}

/// Hex decoding of exactly `N` bytes (either case accepted).
///
/// ```
/// let d: [u8; 2] = cairn_core::encoding::hex_decode_array("0aFF")?;
/// assert_eq!(d, [10, 255]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn hex_decode_array<const N: usize>(text: &str) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|e| Error::malformed(alloc::format!("invalid hex (expected {} bytes): {e}", N)))?;
    Ok(out)
}

/// Encodes a value with postcard (the encoding of every signed cairn payload).
pub fn to_postcard<T: Serialize>(value: &T) -> Vec<u8> {
    // invariant: postcard serialisation into a growable Vec fails only for types that
    // serde cannot describe (e.g. sequences of unknown length), which cairn never defines.
    postcard::to_allocvec(value).expect("invariant: postcard encoding of a cairn type")
}

/// Decodes a postcard value, rejecting trailing bytes and inputs over `max_len` bytes.
pub fn from_postcard<T: DeserializeOwned>(bytes: &[u8], max_len: usize, what: &str) -> Result<T> {
    if bytes.len() > max_len {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!(
                "{what}: {} bytes exceeds the limit of {max_len}",
                bytes.len()
            ),
        ));
    }
    let (value, rest) = postcard::take_from_bytes::<T>(bytes)
        .map_err(|e| Error::malformed(alloc::format!("{what}: cannot decode: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::malformed(alloc::format!(
            "{what}: {} trailing bytes after the encoded value",
            rest.len()
        )));
    }
    Ok(value)
}

/// Like [`from_postcard`], and also requires `bytes` to be the one canonical encoding of the
/// value (minimal varints, no alternative spellings), by re-encoding and comparing. Objects
/// whose hash is their identity are decoded with this, so one object has exactly one id.
pub fn from_postcard_canonical<T: DeserializeOwned + Serialize>(
    bytes: &[u8],
    max_len: usize,
    what: &str,
) -> Result<T> {
    let value: T = from_postcard(bytes, max_len, what)?;
    if to_postcard(&value) != bytes {
        return Err(Error::malformed(alloc::format!(
            "{what}: not in canonical encoding"
        )));
    }
    Ok(value)
}

/// Serde helpers to write 32-byte digests as lowercase hex in JSON views.
pub mod hex32 {
    use super::*;
    use serde::{Deserializer, Serializer};

    /// Serialises a digest as hex in human-readable formats, as 32 raw bytes otherwise.
    pub fn serialize<S: Serializer>(d: &Digest, s: S) -> core::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(d))
        } else {
            serde::Serialize::serialize(d, s)
        }
    }

    /// Inverse of [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> core::result::Result<Digest, D::Error> {
        if d.is_human_readable() {
            let s: String = serde::Deserialize::deserialize(d)?;
            hex_decode_array::<32>(&s).map_err(serde::de::Error::custom)
        } else {
            serde::Deserialize::deserialize(d)
        }
    }
}
