//! Ed25519 (RFC 8032, pure) with strict verification, the same rules as libsodium:
//!
//! - the public key A and the signature's R must be canonical encodings (y < p);
//! - A and R must not have small order (weak keys and the trivial forgeries they allow);
//! - S must be reduced (S < L), so a signature cannot be re-encoded into a second valid one.
//!
//! ed25519-dalek's `verify_strict` covers small order, S < L and R's canonicity (it compares
//! the recomputed R with the signature's R byte for byte); A's canonicity is checked here,
//! because dalek decodes y modulo p without complaint.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::error::{Error, ErrorCode, Result};

/// True when the 32-byte point encoding has y < p = 2^255 − 19 (the sign bit is ignored).
///
/// y ≥ p only for y = p + k with k in 0..19: bytes 1..=30 all 0xff, the low 7 bits of byte 31
/// set, and byte 0 ≥ 0xed.
pub(super) fn is_canonical_y(bytes: &[u8; 32]) -> bool {
    let high_all_ones = bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff);
    !(high_all_ones && bytes[0] >= 0xed)
}

/// Decodes and checks a public key: canonical, a curve point, not of small order. The result
/// is kept by [`super::PublicKey`], so the point is decompressed once per key, not per
/// signature.
pub(super) fn parse_public_key(bytes: &[u8]) -> Result<VerifyingKey> {
    let arr: &[u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::new(ErrorCode::InvalidKey, "Ed25519 public key must be 32 bytes"))?;
    if !is_canonical_y(arr) {
        return Err(Error::new(
            ErrorCode::InvalidKey,
            "Ed25519 public key is not a canonical encoding",
        ));
    }
    let k = VerifyingKey::from_bytes(arr).map_err(|_| {
        Error::new(
            ErrorCode::InvalidKey,
            "Ed25519 public key is not a curve point",
        )
    })?;
    if k.is_weak() {
        return Err(Error::new(
            ErrorCode::InvalidKey,
            "Ed25519 public key has small order",
        ));
    }
    Ok(k)
}

/// Strict RFC 8032 verification of a 64-byte signature (R ‖ S) under a key from
/// [`parse_public_key`].
pub(super) fn verify(k: &VerifyingKey, message: &[u8], sig: &[u8]) -> Result<()> {
    let bad = || {
        Error::new(
            ErrorCode::SignatureInvalid,
            "Ed25519 signature does not verify",
        )
    };
    let sig: &[u8; 64] = sig.try_into().map_err(|_| {
        Error::new(
            ErrorCode::SignatureInvalid,
            "Ed25519 signature must be 64 bytes",
        )
    })?;
    // verify_strict already refuses a non-canonical R (byte comparison); checking it here too
    // keeps the rule explicit and independent of that implementation detail.
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    if !is_canonical_y(&r) {
        return Err(bad());
    }
    k.verify_strict(message, &Signature::from_bytes(sig))
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p_plus(k: u8, sign: bool) -> [u8; 32] {
        let mut b = [0xffu8; 32];
        b[0] = 0xed + k;
        b[31] = if sign { 0xff } else { 0x7f };
        b
    }

    #[test]
    fn canonical_boundary() {
        // p − 1 is canonical, p .. p + 18 are not, with either sign bit.
        let mut below = p_plus(0, false);
        below[0] = 0xec;
        assert!(is_canonical_y(&below));
        for k in 0..19 {
            assert!(!is_canonical_y(&p_plus(k, false)));
            assert!(!is_canonical_y(&p_plus(k, true)));
        }
        assert!(is_canonical_y(&[0u8; 32]));
        let mut hi = [0xffu8; 32];
        hi[30] = 0xfe;
        assert!(is_canonical_y(&hi));
    }

    #[test]
    fn non_canonical_keys_rejected_even_when_dalek_accepts_them() {
        // At least one y = p + k decodes to a large-order point that dalek would accept.
        let mut accepted_by_dalek = 0;
        for k in 0..19u8 {
            for sign in [false, true] {
                let b = p_plus(k, sign);
                if let Ok(vk) = VerifyingKey::from_bytes(&b) {
                    if !vk.is_weak() {
                        accepted_by_dalek += 1;
                    }
                }
                assert_eq!(
                    parse_public_key(&b).unwrap_err().code(),
                    ErrorCode::InvalidKey
                );
            }
        }
        assert!(accepted_by_dalek > 0);
    }

    #[test]
    fn small_order_keys_rejected() {
        // The identity (y = 1) and the point of order 2 (y = −1).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        for k in [identity, minus_one, [0u8; 32]] {
            assert_eq!(
                parse_public_key(&k).unwrap_err().code(),
                ErrorCode::InvalidKey
            );
        }
    }
}
