//! The blind index: `HMAC-SHA-256(pepper, normalised handle)`, the only key under which a
//! registry stores or looks up a handle (docs/FORMATS.md section 19.2). Without the pepper,
//! a copy of the registry's index does not tell which handles it holds, and cannot be searched
//! by guessing handles offline.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::normalise::Handle;
use crate::encoding::{hex_decode_array, hex_encode};
use crate::error::{Error, ErrorCode, Result};

/// Shortest pepper accepted, in bytes.
pub const MIN_PEPPER_LEN: usize = 16;
/// Longest pepper accepted, in bytes (HMAC-SHA-256 hashes keys over 64 bytes first; cairn
/// refuses them instead).
pub const MAX_PEPPER_LEN: usize = 64;

/// The registry's secret HMAC key for blind indexes (seed 003's `pepper_hex`). Used for
/// nothing else. Wiped from memory when dropped; `Debug` does not show it.
///
/// ```
/// use cairn_core::handle::Pepper;
/// let p = Pepper::from_hex("000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f")?;
/// assert_eq!(format!("{p:?}"), "Pepper(32 bytes)");
/// assert_eq!(Pepper::from_bytes(&[0; 8]).unwrap_err().code().as_str(), "invalid_key");
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Pepper(Zeroizing<Vec<u8>>);

impl Pepper {
    /// Wraps a pepper of [`MIN_PEPPER_LEN`] to [`MAX_PEPPER_LEN`] bytes (`invalid_key`
    /// otherwise).
    pub fn from_bytes(bytes: &[u8]) -> Result<Pepper> {
        if !(MIN_PEPPER_LEN..=MAX_PEPPER_LEN).contains(&bytes.len()) {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                alloc::format!(
                    "a pepper is {MIN_PEPPER_LEN} to {MAX_PEPPER_LEN} bytes, got {}",
                    bytes.len()
                ),
            ));
        }
        Ok(Pepper(Zeroizing::new(bytes.to_vec())))
    }

    /// Reads a pepper from hex, either case (`malformed` for bad hex, then as
    /// [`Pepper::from_bytes`]).
    pub fn from_hex(text: &str) -> Result<Pepper> {
        if text.len() > 2 * MAX_PEPPER_LEN {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                alloc::format!("a pepper is at most {MAX_PEPPER_LEN} bytes"),
            ));
        }
        let bytes = Zeroizing::new(
            hex::decode(text)
                .map_err(|e| Error::malformed(alloc::format!("pepper: invalid hex: {e}")))?,
        );
        Pepper::from_bytes(&bytes)
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pepper({} bytes)", self.0.len())
    }
}

/// A blind index: 32 bytes, shown as lowercase hex.
///
/// ```
/// use cairn_core::handle::{blind_index, normalise, BlindIndex, Pepper};
/// let pepper = Pepper::from_bytes(&[7; 32])?;
/// let a = blind_index(&pepper, &normalise("Alice")?);
/// assert_eq!(a, blind_index(&pepper, &normalise("ＡＬＩＣＥ")?));
/// assert_eq!(BlindIndex::from_hex(&a.to_hex())?, a);
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlindIndex(pub [u8; 32]);

impl BlindIndex {
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex (64 characters).
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// Reads 64 hex characters, either case.
    pub fn from_hex(text: &str) -> Result<BlindIndex> {
        hex_decode_array(text).map(BlindIndex)
    }
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindIndex({})", self.to_hex())
    }
}

/// `HMAC-SHA-256(key = pepper, message = the normalised handle's UTF-8 bytes)`.
///
/// ```
/// use cairn_core::handle::{blind_index, normalise, Pepper};
/// let pepper = Pepper::from_hex("000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f")?;
/// let index = blind_index(&pepper, &normalise("alice")?);
/// assert_eq!(index.to_hex().len(), 64);
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn blind_index(pepper: &Pepper, handle: &Handle) -> BlindIndex {
    BlindIndex(hmac_sha256(&pepper.0, &[handle.as_bytes()]))
}

/// HMAC-SHA-256 over the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("invariant: HMAC accepts a key of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time check of an HMAC-SHA-256 tag over `parts`.
pub(crate) fn hmac_sha256_verify(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("invariant: HMAC accepts a key of any length");
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(tag).is_ok()
}
